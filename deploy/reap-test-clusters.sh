#!/usr/bin/env bash
# deploy/reap-test-clusters.sh — stops the throwaway PostgreSQL clusters that crashed test runs
# leave behind (tests/support/PgCluster: data directory ${TMPDIR:-/tmp}/pgmorph-test-*/data) and
# removes their directories. deploy/test.sh runs it before and after ctest.
#
# Which clusters are stale: deploy/test.sh exports PGMORPH_TEST_RUN=<its pid>; every server a
# test starts inherits it, so /proc/<postmaster>/environ names the run that owns the server.
#   (default)      reap servers whose run is over (that process is gone), and directories
#                  without a running server that nobody touched for an hour
#   --owner PID    also reap the servers of run PID (test.sh after ctest: its tests are done)
#   --all          reap every pgmorph-test-* server and directory (CI: a machine of its own)
# Servers started without the variable (a test binary run by hand) are left alone unless --all:
# on a shared machine they may belong to someone's test that is running right now.
set -euo pipefail

all=0 owner=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --all) all=1; shift ;;
    --owner) owner=$2; shift 2 ;;
    *) echo "usage: $0 [--all] [--owner PID]" >&2; exit 2 ;;
  esac
done

base=${TMPDIR:-/tmp}
base=${base%/}

# The run that started server PID, or nothing.
run_of() {
  tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^PGMORPH_TEST_RUN=//p' | head -n 1
}

# True while test run RUN (a deploy/test.sh process) is alive.
run_alive() {
  [[ -n $1 && -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'test\.sh'
}

# Every running test server: "pid datadir" (its postmaster's command line is `postgres -D DIR`).
servers=$(ps -eo pid=,args= |
  sed -n "s|^ *\([0-9][0-9]*\) [^ ]*postgres -D \(${base}/pgmorph-test-[^/ ]*/data\)\( .*\)\{0,1\}$|\1 \2|p")

reaped_dirs=() live_dirs=()
while read -r pid datadir; do
  [[ -n $pid ]] || continue
  run=$(run_of "$pid")
  if [[ $all -eq 0 ]]; then
    if [[ -z $run ]] ||                                     # not started by deploy/test.sh
      { [[ $run != "$owner" ]] && run_alive "$run"; }; then # or its run is still going
      live_dirs+=("$(dirname "$datadir")")
      continue
    fi
  fi
  echo "stopping stale test cluster $datadir (pid $pid)" >&2
  # SIGQUIT is PostgreSQL's immediate shutdown: children exit with the postmaster.
  kill -QUIT "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [[ -e /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -e /proc/$pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  reaped_dirs+=("$(dirname "$datadir")")
done <<<"$servers"

contains() {
  local needle=$1 x
  shift
  for x in "$@"; do [[ $x == "$needle" ]] && return 0; done
  return 1
}

# Directories: those of reaped servers; without a server, all of them with --all, else those
# nobody touched for an hour (a test between initdb and start, or restarting, is younger).
for dir in "$base"/pgmorph-test-*; do
  [[ -d $dir ]] || continue
  contains "$dir" "${live_dirs[@]}" && continue
  if contains "$dir" "${reaped_dirs[@]}" || [[ $all -eq 1 ]] ||
    [[ -n $(find "$dir" -maxdepth 0 -mmin +60) ]]; then
    rm -rf -- "$dir"
  fi
done
