#!/usr/bin/env bash
# tests/deploy-files.sh ROOT PGMORPH_BINARY — checks the deployment files that nothing else
# runs here (run by ctest as deploy_files; no docker, systemd or Kubernetes needed):
#   1. deploy/systemd/pgmorph@.service passes `systemd-analyze verify` without a single
#      message (verify exits 0 on unknown keys and bad values; it only prints them), as an
#      instance whose ExecStart is the built binary (verify checks that it is executable).
#   2. deploy/k8s/pgmorph.yaml and the example pipeline files pass yamllint
#      (deploy/yamllint.yaml).
#   3. The runtime stage of deploy/docker/Dockerfile installs exactly the Debian packages that
#      ship the shared libraries PGMORPH_BINARY links (its NEEDED entries, found through ldd):
#      none missing (the image would not start), none extra (the image holds only those).
#   4. deploy/k8s/pgmorph.yaml: one replica, Recreate, the port of the ConfigMap's
#      metrics.listen is the container's, the probes' and the scrape annotation's, and its
#      pipeline file loads (`pgmorph check` gets as far as connecting: exit 2, not 1) with the
#      Secret's variables set, never printing their value.
# A missing tool is a failure, not a skip: deploy/install-deps.sh installs them.
set -euo pipefail
root=${1:?usage: deploy-files.sh ROOT PGMORPH_BINARY}
binary=${2:?usage: deploy-files.sh ROOT PGMORPH_BINARY}
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
need() {
  command -v "$1" >/dev/null || {
    echo "FAIL: $1 is not installed (Debian package $2; deploy/install-deps.sh installs it)" >&2
    exit 1
  }
}
need systemd-analyze systemd
need yamllint yamllint
need dpkg-query dpkg
need objdump binutils
[[ -x $binary ]] || { echo "FAIL: $binary is not built" >&2; exit 1; }

work=$(mktemp -d /tmp/pgmorph-deploy-files-XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- 1. the systemd unit ---
unit=$root/deploy/systemd/pgmorph@.service
grep -q '^ExecStart=/usr/local/bin/pgmorph ' "$unit" || fail "$unit: ExecStart no longer runs /usr/local/bin/pgmorph (update this test)"
sed "s#^ExecStart=/usr/local/bin/pgmorph #ExecStart=$binary #" "$unit" >"$work/pgmorph@ci.service"
if ! out=$(cd "$work" && systemd-analyze verify "./pgmorph@ci.service" 2>&1) || [[ -n $out ]]; then
  fail "systemd-analyze verify $unit:"$'\n'"${out//$work\/pgmorph@ci.service/$unit}"
fi
grep -q '^RestartPreventExitStatus=2$' "$unit" || fail "$unit: exit 2 (needs a person) must not be restarted"

# --- 2. YAML ---
if ! out=$(yamllint -f parsable -c "$root/deploy/yamllint.yaml" \
  "$root/deploy/k8s/pgmorph.yaml" "$root"/deploy/examples/*/mapping.yaml 2>&1); then
  fail "yamllint:"$'\n'"$out"
fi

# --- 3. the Docker image's runtime libraries ---
dockerfile=$root/deploy/docker/Dockerfile
listed=$(sed -n '/^# pgmorph-runtime-packages-begin$/,/^# pgmorph-runtime-packages-end$/p' "$dockerfile" |
  grep -E '^ +[a-z0-9][a-z0-9.+-]+ *\\?$' | tr -d ' \\' | sort -u)
[[ -n $listed ]] || fail "$dockerfile: no package list between the pgmorph-runtime-packages markers"

owner() {  # the Debian package that ships the library at path $1 (usr-merged or not)
  local p=$1 real
  real=$(readlink -f "$p")
  for candidate in "$p" "$real" "${p#/usr}" "/usr$p" "${real#/usr}" "/usr$real"; do
    if out=$(dpkg-query -S "$candidate" 2>/dev/null); then
      echo "${out%%:*}"
      return 0
    fi
  done
  return 1
}
# The libraries pgmorph itself names (DT_NEEDED), where the loader finds them (ldd); what
# they link in turn comes with their packages' own dependencies (apt installs those).
needed=""
resolved=$(ldd "$binary")
while read -r soname; do
  [[ -n $soname ]] || continue
  lib=$(awk -v s="$soname" '$1 == s && $2 == "=>" {print $3}' <<<"$resolved")
  if [[ -z $lib ]]; then
    fail "ldd $binary does not resolve $soname"
  elif pkg=$(owner "$lib"); then
    needed+="$pkg"$'\n'
  else
    fail "no Debian package ships $lib ($soname, linked by $binary)"
  fi
done < <(objdump -p "$binary" | awk '$1 == "NEEDED" {print $2}')
needed=$(sort -u <<<"${needed%$'\n'}")

missing=$(comm -23 <(echo "$needed") <(echo "$listed"))
extra=$(comm -13 <(echo "$needed") <(echo "$listed"))
[[ -z $missing ]] || fail "$dockerfile does not install $(echo $missing), which pgmorph links (ldd $binary)"
[[ -z $extra ]] || fail "$dockerfile installs $(echo $extra), which pgmorph does not link"

# --- 4. the Kubernetes manifest ---
manifest=$root/deploy/k8s/pgmorph.yaml
grep -qE '^  replicas: 1$' "$manifest" || fail "$manifest: the Deployment must have replicas: 1 (one process per slot)"
grep -qE '^    type: Recreate$' "$manifest" || fail "$manifest: the Deployment's strategy must be Recreate (never two pods on one slot)"
awk '/^  pipeline.yaml: \|$/ {f = 1; next} f && /^[^ ]/ {exit} f {sub(/^    /, ""); print}' \
  "$manifest" >"$work/pipeline.yaml"
port=$(sed -nE 's/^  listen: "0\.0\.0\.0:([0-9]+)".*/\1/p' "$work/pipeline.yaml")
if [[ -z $port ]]; then
  fail "$manifest: the pipeline's metrics.listen must be \"0.0.0.0:PORT\" (reachable from outside the pod)"
else
  grep -qE "^ +containerPort: $port$" "$manifest" || fail "$manifest: containerPort is not metrics.listen's $port"
  grep -qE "^ +prometheus.io/port: \"$port\"$" "$manifest" || fail "$manifest: prometheus.io/port is not metrics.listen's $port"
fi
[[ $(grep -cE '^ +port: metrics$' "$manifest") -eq 2 ]] || fail "$manifest: both probes must use the metrics port"
grep -qE '^ +path: /healthz$' "$manifest" || fail "$manifest: no probe on /healthz"
# Every ${VAR} of the pipeline must be a key of the Secret (the container's environment).
secret_keys=$(awk '/^stringData:$/ {f = 1; next} f && /^[^ ]/ {exit} f && /^  [A-Z_]+:/ {sub(/:.*/, ""); sub(/^  /, ""); print}' "$manifest")
vars=()
for var in $(grep -oE '\$\{[A-Za-z_][A-Za-z0-9_]*\}' "$work/pipeline.yaml" | tr -d '${}' | sort -u); do
  grep -qx "$var" <<<"$secret_keys" || fail "$manifest: the pipeline uses \${$var}, which the Secret does not set"
  vars+=("$var=not-printed-$var")
done
# Connection refused at once instead of the manifest's host names, which do not resolve here.
sed -i -E 's/host=[^ ]+ port=[0-9]+/host=127.0.0.1 port=1/' "$work/pipeline.yaml"
set +e
out=$(env "${vars[@]}" "$binary" check -c "$work/pipeline.yaml" 2>&1)
rc=$?
set -e
if [[ $rc -ne 2 || $out != *"cannot connect to the source database"* ]]; then
  fail "the manifest's pipeline file does not load (pgmorph check exit $rc):"$'\n'"$out"
fi
[[ $out != *not-printed-* ]] || fail "pgmorph check printed a password:"$'\n'"$out"

if [[ $failures -gt 0 ]]; then
  echo "$failures deployment file check(s) failed" >&2
  exit 1
fi
echo "deploy files: unit verified, YAML clean, image libraries = $(echo $needed)"
