#!/usr/bin/env bash
# deploy/install-deps.sh — installs the Debian 12 packages pgmorph needs to build, test and run
# the demo, and only those that are missing. Idempotent: when everything is there it does
# nothing (no `apt-get update`, no root needed). Quiet unless something fails, then it prints
# apt's output. Must run as root (or with passwordless sudo) when something is missing.
#
# The Debian postgresql package normally creates and starts a cluster (15/main on port 5432).
# pgmorph never uses it: tests and the demo start their own throwaway clusters. So when this
# script is the one installing PostgreSQL, it asks postgresql-common not to create that cluster.
set -euo pipefail

packages=(
  # build
  g++ cmake make pkg-config
  libpq-dev rapidjson-dev libboost-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev libzstd-dev clang-format
  # PostgreSQL 15 server (initdb, pg_ctl, pgbench), client (psql), contrib, the wal2json plugin
  postgresql-15 postgresql-client-15 postgresql-contrib postgresql-15-wal2json
  # scripts: ps/pgrep (procps), runuser/setsid (util-linux)
  procps util-linux
  # tests: /metrics read by the Prometheus project's own parser (tests/support/prometheus-samples.py)
  python3-prometheus-client
  # tests/deploy-files.sh: systemd-analyze (systemd), yamllint, objdump (binutils)
  systemd yamllint binutils
  # tests/rehearse: the rehearsal report rendered by headless Chromium, its PDF read by pdftotext
  chromium poppler-utils
)

installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "pgmorph needs these Debian packages, which are missing: ${missing[*]}" >&2
    echo "Install them as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

echo "installing missing packages: ${missing[*]}" >&2
log=$(mktemp /tmp/pgmorph-install-deps-XXXXXX.log)
run() {
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1; then
    echo "failed: $*" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
}

# A drop-in of postgresql-common (read through createcluster.conf's include_dir) that stops the
# package from creating the 15/main cluster; removed again so that it only affects this install.
dropin=/etc/postgresql-common/createcluster.d/pgmorph-no-main-cluster.conf
placed_dropin=0
if ! installed postgresql-15 && [[ ! -e $dropin ]]; then
  run mkdir -p "$(dirname "$dropin")"
  run sh -c "echo 'create_main_cluster = false' > '$dropin'"
  placed_dropin=1
fi

run apt-get update -q
run apt-get install -y -q --no-install-recommends "${missing[@]}"

if [[ $placed_dropin -eq 1 ]]; then
  run rm -f "$dropin"
  # Older postgresql-common versions ignore the drop-in: then keep the cluster they made from
  # starting at boot and stop it (we do not depend on it either way).
  for conf in /etc/postgresql/15/*/start.conf; do
    [[ -e $conf ]] || continue
    run sh -c "echo manual > '$conf'"
    cluster=$(basename "$(dirname "$conf")")
    "${sudo[@]}" pg_ctlcluster 15 "$cluster" stop >/dev/null 2>&1 || true
  done
fi

still=()
for p in "${missing[@]}"; do
  installed "$p" || still+=("$p")
done
if [[ ${#still[@]} -gt 0 ]]; then
  echo "still missing after apt-get install: ${still[*]}" >&2
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
