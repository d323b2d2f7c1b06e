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
# Parallelism: the built-in copy runs max_sync_workers_per_subscription table-sync workers
# (--builtin-workers, default PostgreSQL's 2); pgmorph runs each --jobs value given (a list
# compares several, e.g. --jobs 1,2,3,4, each against the same built-in figure).
#
# With --profile, the target loads pg_stat_statements and the block ends with the statements that
# took pgmorph's target the most time. With --floor, the rows pgmorph wrote are dumped and loaded
# again with plain COPY (--jobs sessions, session_replication_role = replica, no transformation)
# into a fresh target.sql database (as many sessions as the largest --jobs): what loading the target schema costs by itself, the floor no
# loader of that schema can go under on this machine.
#
# Usage: tests/bench/snapshot-vs-builtin.sh [--scale N (40, ~1M rows)] [--jobs N[,N...] (2)]
#                                           [--runs N (1)] [--builtin-workers N (2)] [--profile]
#                                           [--floor]
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scale=40 jobs=2 runs=1 profile=0 floor=0 builtin_workers=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --builtin-workers) builtin_workers=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --floor) floor=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $scale =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ && $builtin_workers =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
  die "--scale, --runs and --builtin-workers take positive integers, --jobs one or a comma-separated list"
IFS=, read -r -a jobs_list <<<"$jobs"
jobs=${jobs_list[0]}

require_pgmorph snapshot
bench_init snapshot

note "starting three clusters in $BENCH_WORK"
bench_cluster source 1 "${BENCH_PG_SETTINGS[@]}" "max_wal_senders = 20" "max_replication_slots = 20"
src_port=$PORT
bench_cluster replica 0 "${BENCH_PG_SETTINGS[@]}" "max_sync_workers_per_subscription = $builtin_workers"
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
# Freshly loaded rows have no hint bits yet: the first reader of each table would set them (and
# write the pages again), which made whichever copy ran first the slowest by up to 2x. VACUUM
# sets them once for all, like a source that has been in service.
psql_run "$src" -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT' >/dev/null
rows=$(dispatch_rows "$src")
note "source holds $(fmt_int "$rows") rows"

# --- the measurements ------------------------------------------------------------------------
tables=$(IFS=,; echo "${DISPATCH_TABLES[*]}")
psql_run "$src" -c "CREATE PUBLICATION bench_pub FOR TABLE $tables" >/dev/null
cfg=$BENCH_WORK/pipeline.yaml
write_config "$src" "$tgt" "$cfg"

# builtin_copy RUN: one initial copy by a subscription into the emptied replica.
builtin_copy() {
  local run=$1 load t0 t1 c_src c_rep
  if [[ $run -gt 1 ]]; then
    # The last run's copy goes: its subscription (and its slot on the source), then its rows.
    psql_run "$rep" -c 'DROP SUBSCRIPTION bench_sub' >/dev/null
    psql_run "$rep" -c "TRUNCATE $tables" >/dev/null
  fi
  sync_workers=$(psql_value "$rep" "SHOW max_sync_workers_per_subscription")
  # The replica's launcher starts an apply worker at most once per wal_retrieve_retry_interval
  # (5 s): a subscription created sooner after the last one waited for it inside the timing
  # (2026-12-02 09:09: 6.8 s against 1.5-1.7 s). Wait that out before the clock starts.
  if [[ -n ${last_builtin_start:-} ]]; then
    sleep "$(awk -v t="$last_builtin_start" -v n="$(now)" 'BEGIN { w = t + 6 - n; printf "%.2f", (w > 0 ? w : 0) }')"
  fi
  load=$(load_now)
  note "run $run: built-in initial copy (max_sync_workers_per_subscription = $sync_workers), load $load"
  c_src=$(cluster_cpu source) c_rep=$(cluster_cpu replica)
  t0=$(now)
  last_builtin_start=$t0
  PGOPTIONS="-c client_min_messages=warning" psql_run "$rep" -v conn="$(conninfo "$src_port" legacy)" >/dev/null <<'SQL'
CREATE SUBSCRIPTION bench_sub CONNECTION :'conn' PUBLICATION bench_pub WITH (copy_data = true);
SQL
  wait_for 7200 "the built-in subscription's table copy" "$rep" \
    "SELECT count(*) = ${#DISPATCH_TABLES[@]} AND bool_and(srsubstate IN ('r', 's')) FROM pg_subscription_rel"
  t1=$(now)
  c_src=$(calc "$(cluster_cpu source) - $c_src") c_rep=$(calc "$(cluster_cpu replica) - $c_rep")
  # Its apply worker would compete with pgmorph for the CPU: stop it before the next measurement.
  psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub DISABLE' >/dev/null
  check_counts "$src" "$rep" ""
  record_run "run=$run who=builtin s=$(calc "$t1 - $t0" %.3f) src=$c_src rep=$c_rep load=${load%% *}"
  note "built-in: $(calc "$t1 - $t0" %.3f) s"
}

# pgmorph_snapshot RUN JOBS: one `pgmorph snapshot --jobs JOBS` into a fresh target database.
pgmorph_snapshot() {
  local run=$1 j=$2 load t0 t1 c_src c_tgt
  if [[ -n $(psql_value "$src" "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pgmorph_bench'") ]]; then
    # The last snapshot's slot and target go: a fresh target.sql and a new slot.
    psql_run "$src" -c "SELECT pg_drop_replication_slot('pgmorph_bench')" >/dev/null
    psql_run "$(conninfo "$tgt_port" postgres)" -c 'DROP DATABASE modern' -c 'CREATE DATABASE modern'
    psql_run "$tgt" -f "$EXAMPLE/target.sql" >/dev/null
  fi
  load=$(load_now)
  note "run $run: pgmorph snapshot --jobs $j, load $load (log: $BENCH_WORK/pgmorph.log)"
  if [[ $profile -eq 1 ]]; then profile_reset "$tgt"; fi
  c_src=$(cluster_cpu source) c_tgt=$(cluster_cpu target)
  run_measured "$BENCH_WORK/pgmorph.log" "$PGMORPH_BIN" snapshot -c "$cfg" --jobs "$j"
  t0=$RUN_START t1=$RUN_END
  if [[ $RUN_RC -ne 0 ]]; then
    tail -n 30 "$BENCH_WORK/pgmorph.log" >&2
    die "pgmorph snapshot exited with $RUN_RC (log above)"
  fi
  c_src=$(calc "$(cluster_cpu source) - $c_src") c_tgt=$(calc "$(cluster_cpu target) - $c_tgt")
  check_counts "$src" "" "$tgt"
  record_run "run=$run who=pgmorph jobs=$j s=$(calc "$t1 - $t0" %.3f) src=$c_src tgt=$c_tgt" \
    "pgm=$RUN_CPU_S rss=$PEAK_RSS_MB load=${load%% *}"
  note "pgmorph --jobs $j: $(calc "$t1 - $t0" %.3f) s"
}

# Alternating: odd runs built-in first, even runs pgmorph first; the --jobs values in turn
# (reversed on even runs), so that the machine's noise falls on every side alike.
for ((run = 1; run <= runs; run++)); do
  order=("${jobs_list[@]}")
  if ((run % 2 == 0)); then
    for ((i = 0; i < ${#jobs_list[@]}; i++)); do order[i]=${jobs_list[${#jobs_list[@]} - 1 - i]}; done
    for j in "${order[@]}"; do pgmorph_snapshot "$run" "$j"; done
    builtin_copy "$run"
  else
    builtin_copy "$run"
    for j in "${order[@]}"; do pgmorph_snapshot "$run" "$j"; done
  fi
done
# The floor below loads with as many sessions as the largest --jobs given.
jobs=$(printf '%s\n' "${jobs_list[@]}" | sort -n | tail -n 1)

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
  # The built-in's fastest run: the floor COPY ran once, after all of them.
  builtin_s=$(awk '$2 == "who=builtin" { for (i = 3; i <= NF; i++) if ($i ~ /^s=/) { sub(/^s=/, "", $i)
                 if (m == "" || $i + 0 < m + 0) m = $i } } END { print m }' "$BENCH_WORK/runs")
  floor_line="floor: plain COPY of the same rows into target.sql ($jobs sessions, replica role): $floor_s s  $(fmt_int "$floor_rate") rows/s, $(calc "$floor_rate / ($rows / $builtin_s)") x the built-in's fastest run; target CPU $(calc "$(cluster_cpu target) - $cpu_tgt0") s   (load $floor_load)"
fi

cores=$(nproc)
cat <<EOF

==== initial copy: pgmorph snapshot vs built-in logical replication ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores, PostgreSQL $(psql_value "$src" "SHOW server_version")
data: dispatch sample, scale $scale, $(fmt_int "$rows") rows (10 tables); $runs run(s), alternating
floor = (source + target + pgmorph CPU s) / $cores cores: the least wall time of pgmorph's work
  on this machine (it runs in --jobs sessions and threads, so no single process bounds it);
  the built-in's floor likewise (source + replica CPU s) / $cores; "at both floors" = built-in
  floor / pgmorph floor, the ratio if neither waited for anything but its CPU
EOF
report_runs rows "$rows" "$cores"
echo "ranges (min–max over the runs):"
echo "  built-in: wall s $(figure_range s 'who=builtin'), CPU s source $(figure_range src 'who=builtin'), replica $(figure_range rep 'who=builtin'); floor s $(figure_range floor 'who=builtin'), wall/floor $(figure_range wallfloor 'who=builtin')"
for j in "${jobs_list[@]}"; do
  sel="who=pgmorph jobs=$j "
  echo "  pgmorph --jobs $j: wall s $(figure_range s "$sel"), ratio to built-in $(figure_range ratio "$sel") (at both floors $(figure_range floorratio "$sel")), floor s $(figure_range floor "$sel"), wall/floor $(figure_range wallfloor "$sel")"
  echo "    CPU s: source $(figure_range src "$sel"), target $(figure_range tgt "$sel"), pgmorph $(figure_range pgm "$sel"); per 100k rows: source $(figure_range src100k "$sel"), target $(figure_range tgt100k "$sel"), pgmorph $(figure_range pgm100k "$sel"); peak RSS MB $(figure_range rss "$sel")"
done
echo "goals (issue 17): ratio >= 0.5; pgmorph peak RSS < 256 MB"
if [[ -n $floor_line ]]; then echo "$floor_line"; fi
if [[ $profile -eq 1 ]]; then profile_report "$tgt"; fi
