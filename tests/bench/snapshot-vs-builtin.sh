#!/usr/bin/env bash
# tests/bench/snapshot-vs-builtin.sh — initial copy: `pgmorph snapshot` (with the example's full
# transformation) against PostgreSQL's built-in logical replication initial table copy into an
# identical, untransformed schema. Same data, same machine, same run; prints both rates, the
# ratio pgmorph / built-in (goal >= 1.0) and pgmorph's peak RSS (goal < 256 MB).
#
# Three throwaway clusters with the same settings: the source (wal_level=logical) loaded with
# source.sql + sample-data.sql (clean data), a "replica" with source.sql for the built-in
# subscription, and a "target" with target.sql for pgmorph. Built-in first: publication for the
# ten dispatch tables, CREATE SUBSCRIPTION ... (copy_data = true), timed until every table's
# pg_subscription_rel.srsubstate is 'r' or 's'; its workers are then disabled. Then pgmorph:
# `pgmorph snapshot -c <cfg> --jobs J` timed from start to exit, its peak RSS sampled from /proc. Both copies are checked afterwards (row counts per table against the source): a run
# that lost rows fails instead of printing a figure.
#
# Parallelism is the same on both sides: the built-in copy runs max_sync_workers_per_subscription
# (default 2) table-sync workers, pgmorph gets --jobs with the same number.
#
# With --profile, the target loads pg_stat_statements and the block ends with the statements that
# took pgmorph's target the most time. With --floor, the rows pgmorph wrote are dumped and loaded
# again with plain COPY (--jobs sessions, session_replication_role = replica, no transformation)
# into a fresh target.sql database: what loading the target schema costs by itself, the floor no
# loader of that schema can go under on this machine.
#
# Usage: tests/bench/snapshot-vs-builtin.sh [--scale N (40, ~1M rows)] [--jobs N (2)] [--profile]
#                                           [--floor]
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scale=40 jobs=2 profile=0 floor=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --floor) floor=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $scale =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ ]] || die "--scale and --jobs take positive integers"

require_pgmorph snapshot
bench_init snapshot

note "starting three clusters in $BENCH_WORK"
bench_cluster source 1 "${BENCH_PG_SETTINGS[@]}" "max_wal_senders = 20" "max_replication_slots = 20"
src_port=$PORT
bench_cluster replica 0 "${BENCH_PG_SETTINGS[@]}" "max_sync_workers_per_subscription = $jobs"
rep_port=$PORT
profile_settings=()
[[ $profile -eq 1 ]] && profile_settings=("${PROFILE_SETTINGS[@]}")
bench_cluster target 0 "${BENCH_PG_SETTINGS[@]}" "${profile_settings[@]}"
tgt_port=$PORT

src=$(conninfo "$src_port" legacy)
rep=$(conninfo "$rep_port" legacy)
tgt=$(conninfo "$tgt_port" modern)
psql_run "$(conninfo "$src_port" postgres)" -c 'CREATE DATABASE legacy'
psql_run "$(conninfo "$rep_port" postgres)" -c 'CREATE DATABASE legacy'
psql_run "$(conninfo "$tgt_port" postgres)" -c 'CREATE DATABASE modern'
load_dispatch_schema "$src"
load_dispatch_schema "$rep"
psql_run "$tgt" -f "$EXAMPLE/target.sql" >/dev/null

note "loading the dispatch sample data at scale $scale (warts=0)"
load_dispatch_data "$src" "$scale"
psql_run "$src" -c 'CHECKPOINT' >/dev/null
rows=$(dispatch_rows "$src")
note "source holds $(fmt_int "$rows") rows"

# --- built-in: publication + subscription with copy_data ------------------------------------
tables=$(IFS=,; echo "${DISPATCH_TABLES[*]}")
psql_run "$src" -c "CREATE PUBLICATION bench_pub FOR TABLE $tables" >/dev/null
sync_workers=$(psql_value "$rep" "SHOW max_sync_workers_per_subscription")
builtin_load=$(load_now)
note "built-in initial copy (max_sync_workers_per_subscription = $sync_workers), load $builtin_load"
cpu_src0=$(cluster_cpu source) cpu_rep0=$(cluster_cpu replica)
t0=$(now)
PGOPTIONS="-c client_min_messages=warning" psql_run "$rep" -v conn="$(conninfo "$src_port" legacy)" >/dev/null <<'SQL'
CREATE SUBSCRIPTION bench_sub CONNECTION :'conn' PUBLICATION bench_pub WITH (copy_data = true);
SQL
wait_for 7200 "the built-in subscription's table copy" "$rep" \
  "SELECT count(*) = ${#DISPATCH_TABLES[@]} AND bool_and(srsubstate IN ('r', 's')) FROM pg_subscription_rel"
t1=$(now)
builtin_s=$(calc "$t1 - $t0" %.3f)
builtin_cpu="source $(calc "$(cluster_cpu source) - $cpu_src0"), replica $(calc "$(cluster_cpu replica) - $cpu_rep0")"
# Its apply worker would compete with pgmorph for the CPU: stop it before the next measurement.
psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub DISABLE' >/dev/null
check_counts "$src" "$rep" ""
note "built-in: $builtin_s s"

# --- pgmorph snapshot -------------------------------------------------------------------------
cfg=$BENCH_WORK/pipeline.yaml
write_config "$src" "$tgt" "$cfg"
pgmorph_load=$(load_now)
note "pgmorph snapshot --jobs $jobs, load $pgmorph_load (log: $BENCH_WORK/pgmorph.log)"
if [[ $profile -eq 1 ]]; then profile_reset "$tgt"; fi
cpu_src0=$(cluster_cpu source) cpu_tgt0=$(cluster_cpu target)
t0=$(now)
run_measured "$BENCH_WORK/pgmorph.log" "$PGMORPH_BIN" snapshot -c "$cfg" --jobs "$jobs"
t1=$(now)
if [[ $RUN_RC -ne 0 ]]; then
  tail -n 30 "$BENCH_WORK/pgmorph.log" >&2
  die "pgmorph snapshot exited with $RUN_RC (log above)"
fi
pgmorph_s=$(calc "$t1 - $t0" %.3f)
pgmorph_cpu="source $(calc "$(cluster_cpu source) - $cpu_src0"), target $(calc "$(cluster_cpu target) - $cpu_tgt0"), pgmorph $RUN_CPU_S"
rss=$PEAK_RSS_MB
check_counts "$src" "" "$tgt"
note "pgmorph: $pgmorph_s s"

# --- optional: the floor of loading target.sql ----------------------------------------------
floor_line=""
if [[ $floor -eq 1 ]]; then
  target_tables=$(psql_value "$tgt" "SELECT string_agg(relname, ' ' ORDER BY pg_relation_size(oid) DESC)
                                       FROM pg_class WHERE relkind = 'r'
                                        AND relnamespace = 'public'::regnamespace")
  psql_run "$(conninfo "$tgt_port" postgres)" -c 'CREATE DATABASE floor' >/dev/null
  flr=$(conninfo "$tgt_port" floor)
  psql_run "$flr" -f "$EXAMPLE/target.sql" >/dev/null
  # Server-side COPY files, in the target cluster's directory (owned by its server's user).
  for t in $target_tables; do
    psql_run "$tgt" -v t="$t" -v file="$BENCH_WORK/target/floor-$t.copy" >/dev/null <<'SQL'
COPY :"t" TO :'file'
SQL
  done
  # Largest tables first, each to the session with the fewest bytes so far.
  declare -a share=() bytes=()
  for ((j = 0; j < jobs; j++)); do share[j]="" bytes[j]=0; done
  for t in $target_tables; do
    size=$(stat -c %s "$BENCH_WORK/target/floor-$t.copy")
    best=0
    for ((j = 1; j < jobs; j++)); do ((bytes[j] < bytes[best])) && best=$j; done
    share[best]+=" $t" bytes[best]=$((bytes[best] + size))
  done
  floor_load=$(load_now)
  note "floor: plain COPY of pgmorph's rows into a fresh target.sql, $jobs sessions, load $floor_load"
  cpu_tgt0=$(cluster_cpu target)
  t0=$(now)
  pids=()
  for ((j = 0; j < jobs; j++)); do
    [[ -n ${share[j]} ]] || continue
    (
      for t in ${share[j]}; do
        psql_run "$flr" -v t="$t" -v file="$BENCH_WORK/target/floor-$t.copy" >/dev/null <<'SQL'
SET session_replication_role = replica;
COPY :"t" FROM :'file'
SQL
      done
    ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || die "the floor COPY failed"; done
  t1=$(now)
  floor_s=$(calc "$t1 - $t0" %.3f)
  floor_rate=$(calc "$rows / $floor_s" %.0f)
  floor_line="floor: plain COPY of the same rows into target.sql ($jobs sessions, replica role): $floor_s s  $(fmt_int "$floor_rate") rows/s, $(calc "$floor_rate / ($rows / $builtin_s)") x built-in; target CPU $(calc "$(cluster_cpu target) - $cpu_tgt0") s   (load $floor_load)"
fi

builtin_rate=$(calc "$rows / $builtin_s" %.0f)
pgmorph_rate=$(calc "$rows / $pgmorph_s" %.0f)
ratio=$(calc "$pgmorph_rate / $builtin_rate")
cat <<EOF

==== initial copy: pgmorph snapshot vs built-in logical replication ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, PostgreSQL $(psql_value "$src" "SHOW server_version")
data: dispatch sample, scale $scale, $(fmt_int "$rows") rows (10 tables)
built-in copy_data (sync workers $sync_workers):  $builtin_s s  $(fmt_int "$builtin_rate") rows/s   (load $builtin_load)
pgmorph snapshot --jobs $jobs (transformed):   $pgmorph_s s  $(fmt_int "$pgmorph_rate") rows/s   (load $pgmorph_load)
ratio pgmorph / built-in:  $ratio   (goal >= 1.0: $(verdict "$ratio" '>=' 1.0))
pgmorph peak RSS:          $rss MB   (goal < 256 MB: $(verdict "$rss" '<' 256))
CPU seconds used: built-in: $builtin_cpu | pgmorph: $pgmorph_cpu
${floor_line}
EOF
if [[ $profile -eq 1 ]]; then profile_report "$tgt"; fi
