#!/usr/bin/env bash
# tests/bench/verify-vs-snapshot.sh — `pgmorph verify` against `pgmorph snapshot` on the same
# data: the issue's bar is that verifying the 1M-row example data set takes no longer than
# copying it. Two throwaway clusters (source with the dispatch sample at --scale, target with
# target.sql); `pgmorph snapshot --jobs J` timed from start to exit, then `pgmorph verify` timed
# the same way, --runs times (the pipeline stopped: verify applies nothing, it only compares).
# Every verify must exit 0 (the target equals the source): a run that finds a difference fails
# instead of printing a figure. Prints the times, the ratio verify / snapshot (goal <= 1.0),
# verify's peak RSS and the CPU seconds each side used.
#
# Usage: tests/bench/verify-vs-snapshot.sh [--scale N (40, ~1M rows)] [--jobs N (2)] [--runs N (2)]
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scale=40 jobs=2 runs=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $scale =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ ]] ||
  die "--scale, --jobs and --runs take positive integers"

require_pgmorph verify
bench_init verify

note "starting two clusters in $BENCH_WORK"
bench_cluster source 1 "${BENCH_PG_SETTINGS[@]}" "max_wal_senders = 20" "max_replication_slots = 20"
src_port=$PORT
bench_cluster target 0 "${BENCH_PG_SETTINGS[@]}"
tgt_port=$PORT
src=$(conninfo "$src_port" legacy)
tgt=$(conninfo "$tgt_port" modern)
psql_run "$(conninfo "$src_port" postgres)" -c 'CREATE DATABASE legacy'
psql_run "$(conninfo "$tgt_port" postgres)" -c 'CREATE DATABASE modern'
load_dispatch_schema "$src"
psql_run "$tgt" -f "$EXAMPLE/target.sql" >/dev/null
note "loading the dispatch sample data at scale $scale (warts=0)"
load_dispatch_data "$src" "$scale"
psql_run "$src" -c 'CHECKPOINT' >/dev/null
rows=$(dispatch_rows "$src")
note "source holds $(fmt_int "$rows") rows"

cfg=$BENCH_WORK/pipeline.yaml
write_config "$src" "$tgt" "$cfg"
snapshot_load=$(load_now)
cpu_src0=$(cluster_cpu source) cpu_tgt0=$(cluster_cpu target)
run_measured "$BENCH_WORK/snapshot.log" "$PGMORPH_BIN" snapshot -c "$cfg" --jobs "$jobs"
t0=$RUN_START t1=$RUN_END
[[ $RUN_RC -eq 0 ]] || { tail -n 30 "$BENCH_WORK/snapshot.log" >&2; die "pgmorph snapshot exited with $RUN_RC"; }
snapshot_s=$(calc "$t1 - $t0" %.3f)
snapshot_cpu="source $(calc "$(cluster_cpu source) - $cpu_src0"), target $(calc "$(cluster_cpu target) - $cpu_tgt0"), pgmorph $RUN_CPU_S"
note "snapshot: $snapshot_s s"
psql_run "$tgt" -c 'VACUUM ANALYZE' >/dev/null

verify_lines="" best=""
for ((r = 1; r <= runs; r++)); do
  load=$(load_now)
  cpu_src0=$(cluster_cpu source) cpu_tgt0=$(cluster_cpu target)
  run_measured "$BENCH_WORK/verify-$r.log" "$PGMORPH_BIN" verify -c "$cfg"
  t0=$RUN_START t1=$RUN_END
  [[ $RUN_RC -eq 0 ]] || { tail -n 40 "$BENCH_WORK/verify-$r.log" >&2; die "pgmorph verify exited with $RUN_RC (it must find the target equal)"; }
  s=$(calc "$t1 - $t0" %.3f)
  verify_lines+="pgmorph verify run $r:   $s s  $(fmt_int "$(calc "$rows / $s" %.0f)") rows/s  peak RSS $PEAK_RSS_MB MB  CPU source $(calc "$(cluster_cpu source) - $cpu_src0"), target $(calc "$(cluster_cpu target) - $cpu_tgt0"), pgmorph $RUN_CPU_S   (load $load)"$'\n'
  if [[ -z $best ]] || awk "BEGIN { exit !($s < $best) }"; then best=$s; fi
  note "verify run $r: $s s"
done
ratio=$(calc "$best / $snapshot_s")
cat <<REPORT

==== pgmorph verify vs pgmorph snapshot ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, PostgreSQL $(psql_value "$src" "SHOW server_version")
data: dispatch sample, scale $scale, $(fmt_int "$rows") rows (10 tables)
pgmorph snapshot --jobs $jobs:  $snapshot_s s  $(fmt_int "$(calc "$rows / $snapshot_s" %.0f)") rows/s   (load $snapshot_load)
  CPU seconds: $snapshot_cpu
${verify_lines}ratio verify (best) / snapshot:  $ratio   (goal <= 1.0: $(verdict "$ratio" '<=' 1.0))
REPORT
