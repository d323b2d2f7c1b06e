#!/usr/bin/env bash
# deploy/demo.sh — pgmorph end to end on this machine, from a fresh clone:
#   1. installs the missing Debian packages (deploy/install-deps.sh) and builds build/pgmorph;
#   2. starts two throwaway PostgreSQL 15 clusters on free ports of 127.0.0.1: the source
#      (wal_level=logical, wal2json) with deploy/examples/dispatch/source.sql, the target with
#      target.sql;
#   3. writes the pipeline file: deploy/examples/dispatch/mapping.yaml with both conninfos
#      pointing at those clusters;
#   4. loads sample-data.sql, then starts `pgmorph run` (snapshot under live load, then follow)
#      (the sample data is clean: warts=0);
#   5. drives live inserts/updates/deletes on the source (tests/workload/oltp.sql with pgbench)
#      and prints what pgmorph reports (applied changes, lag) until Ctrl-C or --seconds;
#   6. waits for pgmorph to catch up, prints row counts per target table against the source and
#      the last lag, and stops everything it started (also on failure or Ctrl-C).
#
# Usage: deploy/demo.sh [--seconds N] [--scale N] [--rate TPS] [--keep]
#   --seconds N  run the workload for N seconds (default: until Ctrl-C)
#   --scale N    sample data scale, about 25,000 rows per unit (default 1)
#   --rate TPS   workload operations per second (default 20)
#   --keep       leave both clusters running at the end and print how to connect
# Environment: PGMORPH_BUILD_DIR (default ./build), PGMORPH_JOBS (default: all cores),
#   PGMORPH_BIN (run this binary instead of building one).
# Exit code: 0 when every target table caught up with the source, 1 otherwise.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/lib/cluster.sh
source "$ROOT/deploy/lib/cluster.sh"
EXAMPLE=$ROOT/deploy/examples/dispatch
WORKLOAD=$ROOT/tests/workload/oltp.sql

run_seconds=0 scale=1 rate=20 keep=0
usage() { sed -n '/^# Usage:/,/^# Exit code/p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) run_seconds=${2:?--seconds needs a number}; shift 2 ;;
    --scale) scale=${2:?--scale needs a number}; shift 2 ;;
    --rate) rate=${2:?--rate needs a number}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$run_seconds" "$scale" "$rate"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "not a whole number: $n" >&2; exit 2; }
done
[[ $scale -ge 1 && $rate -ge 1 ]] || { echo "--scale and --rate must be at least 1" >&2; exit 2; }

build=${PGMORPH_BUILD_DIR:-$ROOT/build}
jobs=${PGMORPH_JOBS:-$(nproc)}

say() { printf '[demo] %s\n' "$*"; }
die() {
  printf '[demo] error: %s\n' "$*" >&2
  exit 1
}

# --- everything the demo starts, and how it is stopped -------------------------------------

work="" pgmorph_pid="" pgbench_pid=""
phase=setup     # setup -> run (Ctrl-C ends the workload) -> finish (Ctrl-C skips the wait) -> finished
stop_requested=0 skip_wait=0

on_signal() {
  case $phase in
    run) stop_requested=1 ;;
    finish) skip_wait=1 ;;
    *) exit 130 ;;
  esac
}

# stop_process PID NAME SIGNAL GRACE: sends SIGNAL, then SIGTERM and at last SIGKILL to a
# process that is still there GRACE seconds later. Returns the process's exit status.
stop_process() {
  local pid=$1 name=$2 sig=$3 grace=$4 rc=0 s
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    for s in "$sig" TERM KILL; do
      kill -"$s" "$pid" 2>/dev/null || true
      for _ in $(seq 1 $((grace * 10))); do
        kill -0 "$pid" 2>/dev/null || break 2
        sleep 0.1
      done
      say "$name is still running ${grace}s after SIG$s"
    done
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

cleanup() {
  local rc=$? prc=0
  trap - EXIT INT TERM HUP
  set +e
  stop_process "$pgbench_pid" pgbench TERM 5
  pgbench_pid=""
  if [[ -n $pgmorph_pid ]]; then
    stop_process "$pgmorph_pid" pgmorph INT 30 || prc=$?
    # SIGINT must end pgmorph with status 0: anything else is a failure of the demo too.
    if [[ $prc -ne 0 ]]; then
      say "pgmorph exited with status $prc$( ((prc > 128)) && echo " (signal $((prc - 128)))")"
      [[ $rc -ne 0 ]] || rc=1
    fi
  fi
  if [[ $rc -ne 0 && -s $work/pgmorph.log ]]; then
    say "the last lines pgmorph logged:"
    tail -n 20 "$work/pgmorph.log" | sed 's/^/    /'
  fi
  if [[ -n $work && -d $work ]]; then
    if [[ $keep -eq 1 && -n ${src_port:-} && -n ${tgt_port:-} ]]; then
      print_keep_instructions
    else
      cluster_stop "$work/source"
      cluster_stop "$work/target"
      rm -rf "$work"
    fi
  fi
  exit "$rc"
}

print_keep_instructions() {
  local pgctl="$PGBIN/pg_ctl"
  [[ $(id -u) -eq 0 ]] && pgctl="runuser -u postgres -- $PGBIN/pg_ctl"
  cat <<EOF
[demo] --keep: both clusters are still running (pgmorph is stopped).
  source:  $PGBIN/psql "$SRC"
  target:  $PGBIN/psql "$TGT"
  pipeline file:  $work/pipeline.yaml
  resume:  $pgmorph run -c $work/pipeline.yaml
  logs:    $work/pgmorph.log  $work/pgbench.log  $work/source/server.log  $work/target/server.log
  stop and remove everything:
    $pgctl -D $work/source/data stop; $pgctl -D $work/target/data stop; rm -rf $work
EOF
}

trap cleanup EXIT
trap on_signal INT TERM HUP

# --- 1. packages and build -----------------------------------------------------------------

"$ROOT/deploy/install-deps.sh"
[[ -f /usr/lib/postgresql/15/lib/wal2json.so ]] ||
  die "the wal2json plugin is not installed (package postgresql-15-wal2json)"

work=$(mktemp -d /tmp/pgmorph-demo-XXXXXX)
chmod 755 "$work"

if [[ -n ${PGMORPH_BIN:-} ]]; then
  pgmorph=$PGMORPH_BIN
  say "using $pgmorph (PGMORPH_BIN), not building"
else
  pgmorph=$build/pgmorph
  say "building pgmorph in $build (log: $work/build.log)"
  if ! { cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$build" -j"$jobs" --target pgmorph; } >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "the build failed (see above)"
  fi
fi
[[ -x $pgmorph ]] || die "there is no executable $pgmorph"

# --- 2. clusters and schemas ---------------------------------------------------------------

say "starting two throwaway PostgreSQL 15 clusters in $work"
mkdir "$work/source" "$work/target"
cluster_init "$work/source" 1
cluster_init "$work/target" 0
src_port=$(cluster_start "$work/source")
tgt_port=$(cluster_start "$work/target")
SRC=$(conninfo "$src_port" legacy)
TGT=$(conninfo "$tgt_port" modern)
psql_run "$(conninfo "$src_port" postgres)" -c 'CREATE DATABASE legacy'
psql_run "$(conninfo "$tgt_port" postgres)" -c 'CREATE DATABASE modern'
psql_run "$SRC" -f "$EXAMPLE/source.sql"
psql_run "$TGT" -f "$EXAMPLE/target.sql"
say "source: $SRC (wal_level=logical)"
say "target: $TGT"

# --- 3. the pipeline file --------------------------------------------------------------------

# mapping.yaml with the conninfo of its `source:` and `target:` sections replaced.
awk -v src="$SRC" -v tgt="$TGT" '
  /^[^[:space:]#]/ { section = $1 }
  /^[[:space:]]+conninfo:/ && section == "source:" { sub(/conninfo:.*/, "conninfo: \"" src "\""); n++ }
  /^[[:space:]]+conninfo:/ && section == "target:" { sub(/conninfo:.*/, "conninfo: \"" tgt "\""); n++ }
  { print }
  END { if (n != 2) exit 1 }' "$EXAMPLE/mapping.yaml" >"$work/pipeline.yaml" ||
  die "could not find the source and target conninfo lines in $EXAMPLE/mapping.yaml"
say "pipeline file: $work/pipeline.yaml (deploy/examples/dispatch/mapping.yaml, conninfos replaced)"

# --- 4. the initial data, then pgmorph run (snapshot, then follow) ------------------------------------------------

# Starts "$@" in the background in a session of its own, so that Ctrl-C reaches only this
# script, which then stops the workload first and pgmorph last, after it caught up. Without job
# control, bash starts background commands with SIGINT ignored: undo that, or SIGINT would not
# stop them.
spawn() { (trap - INT QUIT && exec setsid "$@") & }

say "loading sample-data.sql into the source (scale $scale, warts=0, about $((25 * scale))k rows)"
psql_run "$SRC" -v scale="$scale" -v warts=0 -f "$EXAMPLE/sample-data.sql" >/dev/null

# `run` takes the snapshot (slot with an exported snapshot, every mapped table copied in FK
# order) and then follows from the slot's consistent point; the workload below starts at once,
# so the snapshot is taken while the source keeps changing, as in a real cutover.
say "starting: $pgmorph run -c $work/pipeline.yaml (log: $work/pgmorph.log)"
spawn "$pgmorph" run -c "$work/pipeline.yaml" >"$work/pgmorph.log" 2>&1
pgmorph_pid=$!

# --- 5. live workload ------------------------------------------------------------------------

duration=$run_seconds
[[ $duration -gt 0 ]] || duration=31536000
if [[ $run_seconds -gt 0 ]]; then
  say "live workload: $rate operations/s for ${run_seconds}s (tests/workload/oltp.sql)"
else
  say "live workload: $rate operations/s (tests/workload/oltp.sql); Ctrl-C to stop"
fi
spawn "$PGBIN/pgbench" -n -c 2 -R "$rate" -T "$duration" -P 5 -D scale="$scale" \
  -f "$WORKLOAD" "$SRC" >"$work/pgbench.log" 2>&1
pgbench_pid=$!

# The latest progress line pgmorph logged, from "applied" on.
pgmorph_progress() {
  grep -aE 'applied [0-9]+ txns' "$work/pgmorph.log" 2>/dev/null | tail -n 1 | sed -E 's/^[^[]*\[[a-z]+\] //' || true
}
slot_lag() {
  local lag
  lag=$(psql_value "$SRC" "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn))
                             FROM pg_replication_slots WHERE database = 'legacy' LIMIT 1" 2>/dev/null || true)
  echo "${lag:-?}"
}
log_seen=0
# Warnings and errors that pgmorph logged since the last call, as they come.
show_pgmorph_problems() {
  local total
  total=$(wc -l <"$work/pgmorph.log" 2>/dev/null || echo 0)
  if [[ $total -gt $log_seen ]]; then
    sed -n "$((log_seen + 1)),${total}p" "$work/pgmorph.log" |
      grep -aiE '\[(warn|warning|error|critical)\]' | sed 's/^/[pgmorph] /' || true
    log_seen=$total
  fi
}

phase=run
started=$(date +%s)
next_report=$((started + 5))
pgmorph_died=0 workload_failed=0
while [[ $stop_requested -eq 0 ]]; do
  now=$(date +%s)
  if ! kill -0 "$pgmorph_pid" 2>/dev/null; then
    pgmorph_died=1
    break
  fi
  if ! kill -0 "$pgbench_pid" 2>/dev/null; then
    prc=0
    wait "$pgbench_pid" || prc=$?
    pgbench_pid=""
    if [[ $prc -ne 0 ]]; then workload_failed=1; fi
    break
  fi
  show_pgmorph_problems
  if [[ $now -ge $next_report ]]; then
    tps=$(grep -a '^progress:' "$work/pgbench.log" | tail -n 1 | sed -n 's/.*, \([0-9.]*\) tps.*/\1/p' || true)
    # pgmorph logs its progress every few seconds; until the first line, say so.
    progress=$(pgmorph_progress)
    printf '[demo %4ss] workload %s tps | pgmorph: %s | slot confirmed %s behind\n' \
      "$((now - started))" "${tps:--}" "${progress:-no progress line yet}" "$(slot_lag)"
    next_report=$((now + 5))
  fi
  sleep 1 || true
done

# --- 6. catch up, summary, stop --------------------------------------------------------------

phase=finish
if [[ -n $pgbench_pid ]]; then
  stop_process "$pgbench_pid" pgbench TERM 5 || true
  pgbench_pid=""
fi
grep -aE '^(number of transactions actually processed|number of failed transactions)' \
  "$work/pgbench.log" | sed 's/^/[workload] /' || true
if [[ $workload_failed -eq 1 ]]; then
  say "the workload failed; pgbench said:"
  grep -aiE 'error|abort' "$work/pgbench.log" | head -n 5 | sed 's/^/    /' || true
fi

# Expected target rows, from the source, per the mapping (clean data: every row lands).
PAIRS=(
  "offices|dispatch_office|true"
  "profiles|dispatch_user|true"
  "doctors|dispatch_doctor|true"
  "patients|dispatch_patient|true"
  "jaws|dispatch_jaw|true"
  "orders|dispatch_instruction|true"
  "case_files|dispatch_file|true"
  "system_messages|dispatch_notification|true"
  "payments|dispatch_payment|true"
  "case_states|dispatch_state|kind = 'case'"
  "order_states|dispatch_state|kind = 'order'"
)
count_query() {
  local side=$1 sql="" sep="" pair target source where
  for pair in "${PAIRS[@]}"; do
    IFS='|' read -r target source where <<<"$pair"
    if [[ $side == target ]]; then
      sql+="${sep}(SELECT count(*) FROM $target)"
    else
      sql+="${sep}(SELECT count(*) FROM $source WHERE $where)"
    fi
    sep=" || '|' || "
  done
  # The jaws that orders name must point back at their order on the target.
  if [[ $side == target ]]; then
    sql+="$sep(SELECT count(*) FROM jaws WHERE order_id IS NOT NULL)"
  else
    sql+="$sep(SELECT count(DISTINCT j) FROM dispatch_instruction,
                LATERAL (VALUES (upper_jaw_id), (lower_jaw_id)) v(j) WHERE j IS NOT NULL)"
  fi
  echo "SELECT $sql"
}
counts_of() { psql_value "$1" "$(count_query "$2")" 2>/dev/null || echo ""; }

# Caught up = every count matches. Waits while the target moves; gives up after 30 s without
# any change on the target (pgmorph stuck, or rows parked), or after 10 minutes in all.
if [[ $pgmorph_died -eq 0 ]]; then
  say "workload stopped; waiting for pgmorph to catch up (Ctrl-C to skip)"
  src_counts=$(counts_of "$SRC" source)
  last_tgt="" unchanged=0
  for _ in $(seq 1 600); do
    [[ $skip_wait -eq 0 ]] || break
    kill -0 "$pgmorph_pid" 2>/dev/null || { pgmorph_died=1; break; }
    tgt_counts=$(counts_of "$TGT" target)
    [[ -n $src_counts && $src_counts == "$tgt_counts" ]] && break
    if [[ $tgt_counts == "$last_tgt" ]]; then unchanged=$((unchanged + 1)); else unchanged=0; fi
    [[ $unchanged -lt 30 ]] || break
    last_tgt=$tgt_counts
    sleep 1 || true
  done
fi
show_pgmorph_problems
if [[ $pgmorph_died -eq 1 ]]; then
  say "pgmorph is not running any more"
fi

src_counts=$(counts_of "$SRC" source)
tgt_counts=$(counts_of "$TGT" target)
IFS='|' read -r -a src_n <<<"$src_counts"
IFS='|' read -r -a tgt_n <<<"$tgt_counts"
echo
printf '%-34s %10s %10s  %s\n' "target table" "target" "source" "source rows"
all_ok=1
for i in "${!PAIRS[@]}"; do
  IFS='|' read -r target source where <<<"${PAIRS[$i]}"
  [[ $where == true ]] && what=$source || what="$source where $where"
  mark=ok
  [[ ${src_n[$i]:-?} == "${tgt_n[$i]:-!}" ]] || { mark=DIFFERENT; all_ok=0; }
  printf '%-34s %10s %10s  %-40s %s\n' "$target" "${tgt_n[$i]:-?}" "${src_n[$i]:-?}" "$what" "$mark"
done
i=${#PAIRS[@]}
mark=ok
[[ ${src_n[$i]:-?} == "${tgt_n[$i]:-!}" ]] || { mark=DIFFERENT; all_ok=0; }
printf '%-34s %10s %10s  %-40s %s\n' "jaws with their order set" "${tgt_n[$i]:-?}" "${src_n[$i]:-?}" \
  "jaws named by dispatch_instruction" "$mark"
echo
last=$(pgmorph_progress)
say "last progress from pgmorph: ${last:-none logged}"
lag=$(sed -n 's/.*lag \(.*\)$/\1/p' <<<"$last")
say "last lag: ${lag:-unknown} (pgmorph); the slot is confirmed $(slot_lag) behind the source's WAL"

phase=finished
if [[ $all_ok -eq 1 && $pgmorph_died -eq 0 && $workload_failed -eq 0 ]]; then
  say "every target table matches the source"
  exit 0
fi
say "the target does not match the source (or a process failed): see $work/pgmorph.log$([[ $keep -eq 1 ]] || echo ', printed below')"
exit 1
