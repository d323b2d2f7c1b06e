#!/usr/bin/env bash
# tests/bench/apply-vs-builtin.sh — change apply: `pgmorph follow` (with the example's full
# transformation) against PostgreSQL's built-in logical replication apply into an identical,
# untransformed schema, catching up the same backlog one after the other. Prints the changes/s
# of each and the ratio pgmorph / built-in (goal >= 2.0).
#
# Three throwaway clusters with the same settings: the source (wal_level=logical), a "replica"
# with source.sql for the built-in subscription, a "target" with target.sql for pgmorph.
#  1. pgmorph's slot is created on the empty source (`pgmorph follow --until-caught-up`), then the
#     dispatch sample data is loaded (clean, --scale), the built-in subscription copies it
#     (copy_data = true) and pgmorph follows until caught up: both consumers hold the same rows.
#  2. Both stop (ALTER SUBSCRIPTION ... DISABLE; pgmorph has exited). The OLTP mix
#     (tests/workload/oltp.sql) runs with pgbench until the source's pg_stat_user_tables count at
#     least --changes row changes (n_tup_ins + n_tup_upd + n_tup_del of the dispatch tables);
#     L = the source's pg_current_wal_lsn() afterwards.
#  3. Built-in alone: ENABLE, timed until its slot's confirmed_flush_lsn >= L. Then pgmorph alone:
#     `pgmorph follow --until-lsn L`, timed from start to exit (peak RSS sampled from /proc).
#  4. Both copies are checked (row counts per table against the source): a run that lost rows
#     fails instead of printing a figure.
# Besides those "until confirmed" times, the block shows when each consumer committed its last
# transaction (the subscriber's replication origin, pgmorph's checkpoint row: the moment each
# stopped moving), which leaves out the delay of reporting progress back to the source.
#
# With --index-fks, both the replica and the target get an index on the referencing columns of
# every foreign key (neither example schema has them; without them each delete of an order scans
# its children's tables on the target, where foreign keys are enforced).
# With --profile, the target loads pg_stat_statements and the block ends with the statements that
# took pgmorph's target the most time (the built-in apply worker runs no SQL statements).
# With --runs N, steps 2-4 are repeated N times on a new backlog each, the consumers alternating
# which goes first; the block gives every run and the min–max of each figure.
# With --parked N, N rows of dispatch_notification with malformed JSON in template_context are
# inserted on the source before pgmorph's first catch-up: pgmorph parks them (on_error: park), and
# while anything is parked it neither assumes parents, nor stages the next batch, nor runs target
# sessions side by side (sink/ParkingApplier.h). The runs then measure that path: a migration
# with dirty data. The row counts expect system_messages to be N rows short.
# With --pipeline-extra YAML (repeatable; or the env BENCH_PIPELINE_EXTRA, one document), the YAML
# lines are appended to pgmorph's config as top-level keys, e.g. 'apply: {sessions: 2}' or
# 'apply: {batch_changes: 2000}' (the example's mapping.yaml has no apply/snapshot section, so
# one key per section: give a section's settings in one map). The block prints them.
#
# Usage: tests/bench/apply-vs-builtin.sh [--changes N (200000)] [--scale N (10)] [--clients N (2)]
#                                        [--runs N (1)] [--index-fks] [--profile] [--parked N (0)]
#                                        [--pipeline-extra YAML]...
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run,
#        BENCH_PIPELINE_EXTRA (as --pipeline-extra).
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

changes=200000 scale=10 clients=2 runs=1 profile=0 index_fks=0 parked=0
pipeline_extra=()
[[ -n ${BENCH_PIPELINE_EXTRA:-} ]] && pipeline_extra+=("$BENCH_PIPELINE_EXTRA")
while [[ $# -gt 0 ]]; do
  case $1 in
    --changes) changes=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --index-fks) index_fks=1; shift ;;
    --parked) parked=$2; shift 2 ;;
    --pipeline-extra) pipeline_extra+=("$2"); shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$changes" "$scale" "$clients" "$runs"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "--changes, --scale, --clients and --runs take positive integers"
done
[[ $parked =~ ^[0-9]+$ ]] || die "--parked takes a number of rows (0 or more)"

require_pgmorph follow
bench_init apply

note "starting three clusters in $BENCH_WORK"
bench_cluster source 1 "${BENCH_PG_SETTINGS[@]}" "max_wal_senders = 20" "max_replication_slots = 20"
src_port=$PORT
bench_cluster replica 0 "${BENCH_PG_SETTINGS[@]}"
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
if [[ $index_fks -eq 1 ]]; then
  index_foreign_keys "$rep"
  index_foreign_keys "$tgt"
fi
cfg=$BENCH_WORK/pipeline.yaml
write_config "$src" "$tgt" "$cfg"
if [[ ${#pipeline_extra[@]} -gt 0 ]]; then
  # pgmorph validates its config: a misspelt key fails the first `follow`, before any data load.
  printf '%s\n' "${pipeline_extra[@]}" >>"$cfg"
fi
# With several target sessions (apply.sessions > 1 in the extra keys) the target's CPU is no
# longer bound to one session: the floor then drops that term (see the block's floor line).
floor_mode=single
if [[ "${pipeline_extra[*]}" =~ sessions:[[:space:]]*([0-9]+) ]] && ((BASH_REMATCH[1] > 1)); then
  floor_mode=sessions
fi

# follow_until ARGS...: one `pgmorph follow` run to a stop point; fails with its log.
follow_until() {
  local log=$BENCH_WORK/pgmorph-follow.log
  if ! "$PGMORPH_BIN" follow -c "$cfg" "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "pgmorph follow $* failed (log above)"
  fi
}

# --- 1. both consumers caught up on the same data ---------------------------------------------
note "creating pgmorph's slot on the empty source"
follow_until --until-caught-up
note "loading the dispatch sample data at scale $scale (warts=0)"
load_dispatch_data "$src" "$scale"
tables=$(IFS=,; echo "${DISPATCH_TABLES[*]}")
psql_run "$src" -c "CREATE PUBLICATION bench_pub FOR TABLE $tables" >/dev/null
PGOPTIONS="-c client_min_messages=warning" psql_run "$rep" -v conn="$(conninfo "$src_port" legacy)" >/dev/null <<'SQL'
CREATE SUBSCRIPTION bench_sub CONNECTION :'conn' PUBLICATION bench_pub WITH (copy_data = true);
SQL
note "built-in subscription: initial copy"
wait_for 3600 "the built-in subscription's table copy" "$rep" \
  "SELECT count(*) = ${#DISPATCH_TABLES[@]} AND bool_and(srsubstate = 'r') FROM pg_subscription_rel"
wait_slot_confirmed "$src" bench_sub "$(psql_value "$src" "SELECT pg_current_wal_lsn()")" 600
if [[ $parked -gt 0 ]]; then
  # Negative ids: the workload picks notifications in 1..max(id), so it never touches these, and
  # its picks are the same as without them.
  psql_run "$src" -v n="$parked" >/dev/null <<'SQL'
INSERT INTO dispatch_notification (id, recipient_id, template, template_context, is_read)
SELECT -g, NULL, 'bench-parked', '{not json', 0 FROM generate_series(1, :n) g
SQL
  TARGET_SHORT[dispatch_notification]=$parked
  note "$parked rows that pgmorph parks inserted on the source (malformed template_context)"
fi
note "pgmorph: applying the data load from its slot"
follow_until --until-caught-up
check_counts "$src" "$rep" "$tgt"
# The copies' rows have no hint bits yet, and no statistics: the first run's consumer would set
# the bits on every page it reads (and write it again), and autovacuum would analyze beside the
# measurement. Done once here for all three, like databases that have been in service.
for db in "$src" "$rep" "$tgt"; do psql_run "$db" -c 'VACUUM (ANALYZE)' >/dev/null; done

# --- 2. both stopped; the backlog -------------------------------------------------------------
psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub DISABLE' >/dev/null
wait_for 60 "the built-in apply worker to stop" "$src" \
  "SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'bench_sub'"

# The counters of a backend reach the shared statistics when it exits: read them once no client
# of the source database is left, and until two reads agree.
settled_changes() {
  local a b
  wait_for 60 "the source's clients to disconnect" "$src" \
    "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database()
       AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
  b=$(source_row_changes "$src")
  while :; do
    sleep 0.5
    a=$b
    b=$(source_row_changes "$src")
    [[ $a == "$b" ]] && break
  done
  echo "$b"
}

# make_backlog: runs the OLTP mix until the source counts >= --changes more row changes; sets
# made (how many) and lsn (the source's position after it).
make_backlog() {
  local before round per_client
  before=$(settled_changes)
  made=0 round=0
  while [[ $made -lt $changes ]]; do
    # About 1.6 row changes per transaction of the mix; aim a little high, top up if short.
    per_client=$(((changes - made) * 105 / 160 / clients + 1))
    round=$((round + 1))
    note "backlog round $round: pgbench $clients clients x $per_client transactions"
    if ! "$PGBIN/pgbench" -n -M prepared -c "$clients" -j "$clients" -t "$per_client" \
      -D scale="$scale" -f "$WORKLOAD" "$src" >"$BENCH_WORK/pgbench-$round.out" 2>&1; then
      cat "$BENCH_WORK/pgbench-$round.out" >&2
      die "pgbench failed while generating the backlog"
    fi
    grep -q 'number of failed transactions: 0 ' "$BENCH_WORK/pgbench-$round.out" ||
      { cat "$BENCH_WORK/pgbench-$round.out" >&2; die "the workload had failed transactions"; }
    made=$(($(settled_changes) - before))
  done
  lsn=$(psql_value "$src" "SELECT pg_current_wal_lsn()")
  wal_mb=$(psql_value "$src" "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) / 1048576.0, 1)
                               FROM pg_replication_slots WHERE slot_name = 'bench_sub'")
  note "backlog: $(fmt_int "$made") row changes, $wal_mb MB of WAL, up to $lsn"
  psql_run "$src" -c 'CHECKPOINT' >/dev/null
}

# Transactions committed in the target database: how many target transactions pgmorph made.
target_commits() {
  psql_value "$tgt" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}
# Source transactions pgmorph has applied so far (its checkpoint row counts them).
applied_txs() {
  psql_value "$tgt" "SELECT applied_transactions FROM pgmorph.checkpoint WHERE pipeline = 'bench'"
}

# autovac_runs DB: autovacuum and autoanalyze runs finished so far on DB's tables. Their
# difference across a consumer's window says whether the server's own maintenance (started by the
# previous run's dead rows) landed in that window: its CPU counts in the consumer's server's CPU.
autovac_runs() {
  psql_value "$1" "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"
}

# --- 3. catch-up, one consumer at a time ------------------------------------------------------
install_watch "$rep"
install_watch "$tgt"

# builtin_apply RUN: the built-in apply worker catches up to $lsn alone.
builtin_apply() {
  local run=$1 load t0 t1 c_src c_rep applied_s av
  load=$(load_now)
  note "run $run: built-in apply, load $load"
  start_watch "$rep" "SELECT max(remote_lsn)::text FROM pg_replication_origin_status" \
    "$BENCH_WORK/builtin-applied"
  c_src=$(cluster_cpu source) c_rep=$(cluster_cpu replica) av=$(autovac_runs "$rep")
  t0=$(now)
  psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub ENABLE' >/dev/null
  wait_slot_confirmed "$src" bench_sub "$lsn" 3600
  t1=$(now)
  c_src=$(calc "$(cluster_cpu source) - $c_src") c_rep=$(calc "$(cluster_cpu replica) - $c_rep")
  stop_watch "$rep" "the built-in subscriber"
  applied_s=$(calc "$(cat "$BENCH_WORK/builtin-applied") - $t0" %.3f)
  psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub DISABLE' >/dev/null
  wait_for 60 "the built-in apply worker to stop" "$src" \
    "SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'bench_sub'"
  record_run "run=$run who=builtin s=$(calc "$t1 - $t0" %.3f) applied_s=$applied_s" \
    "src=$c_src rep=$c_rep units=$made load=${load%% *}"
  note "built-in: confirmed after $(calc "$t1 - $t0" %.3f) s, last commit after $applied_s s," \
    "autovacuum/analyze runs meanwhile $(($(autovac_runs "$rep") - av))"
}

# pgmorph_apply RUN: `pgmorph follow --until-lsn $lsn` alone.
pgmorph_apply() {
  local run=$1 load t0 t1 c_src c_tgt commits0 applied0 applied_s av
  load=$(load_now)
  note "run $run: pgmorph follow --until-lsn $lsn, load $load"
  start_watch "$tgt" "SELECT applied_transactions::text FROM pgmorph.checkpoint WHERE pipeline = 'bench'" \
    "$BENCH_WORK/pgmorph-applied"
  c_src=$(cluster_cpu source) c_tgt=$(cluster_cpu target) av=$(autovac_runs "$tgt")
  commits0=$(target_commits) applied0=$(applied_txs)
  if [[ $profile -eq 1 ]]; then profile_reset "$tgt"; fi
  run_measured "$BENCH_WORK/pgmorph.log" "$PGMORPH_BIN" follow -c "$cfg" --until-lsn "$lsn"
  t0=$RUN_START t1=$RUN_END
  c_src=$(calc "$(cluster_cpu source) - $c_src") c_tgt=$(calc "$(cluster_cpu target) - $c_tgt")
  if [[ $RUN_RC -ne 0 ]]; then
    tail -n 30 "$BENCH_WORK/pgmorph.log" >&2
    die "pgmorph follow --until-lsn $lsn exited with $RUN_RC (log above)"
  fi
  stop_watch "$tgt" "pgmorph"
  applied_s=$(calc "$(cat "$BENCH_WORK/pgmorph-applied") - $t0" %.3f)
  sleep 1  # a backend's counters reach pg_stat_database when it exits (pgmorph has)
  record_run "run=$run who=pgmorph s=$(calc "$t1 - $t0" %.3f) applied_s=$applied_s" \
    "src=$c_src tgt=$c_tgt pgm=$RUN_CPU_S rss=$PEAK_RSS_MB units=$made" \
    "txs=$(($(applied_txs) - applied0)) commits=$(($(target_commits) - commits0)) load=${load%% *}"
  note "pgmorph: exited after $(calc "$t1 - $t0" %.3f) s, last commit after $applied_s s," \
    "autovacuum/analyze runs meanwhile $(($(autovac_runs "$tgt") - av))"
}

# Each run: a new backlog of the same workload, then both consumers on it, alternating which
# goes first (odd runs the built-in), so that the machine's noise falls on both alike.
for ((run = 1; run <= runs; run++)); do
  make_backlog
  if ((run % 2 == 1)); then
    builtin_apply "$run"
    pgmorph_apply "$run"
  else
    pgmorph_apply "$run"
    builtin_apply "$run"
  fi
  check_counts "$src" "$rep" "$tgt"
done

cores=$(nproc)
cat <<EOF

==== change apply: pgmorph follow vs built-in logical replication ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores, PostgreSQL $(psql_value "$src" "SHOW server_version")
per run: a backlog of >= $(fmt_int "$changes") row changes (OLTP mix, $clients clients) on dispatch scale $scale$([[ $index_fks -eq 1 ]] && echo ", foreign keys indexed on both sides" || echo ", foreign keys not indexed (the example's schemas as they are)"); $runs run(s), alternating
wall time: until the consumer has confirmed L to the source (built-in: confirmed_flush_lsn; pgmorph: its exit)
EOF
if [[ ${#pipeline_extra[@]} -gt 0 ]]; then
  echo "pgmorph config extra keys: $(printf '%s; ' "${pipeline_extra[@]}")"
fi
if [[ $parked -gt 0 ]]; then
  echo "--parked $parked: that many rows stay parked on pgmorph's target in every run (no assumed parents, no staging, no side-by-side sessions)"
fi
if [[ $floor_mode == single ]]; then
  cat <<EOF
floor = max((source + target + pgmorph CPU s) / $cores cores, target CPU s, pgmorph CPU s): pgmorph
  applies through one target session and one thread, neither of which can take less than its own CPU time
EOF
  report_runs changes 0 "$cores" single
else
  cat <<EOF
floor = max((source + target + pgmorph CPU s) / $cores cores, pgmorph CPU s): several target sessions,
  so the target's CPU is spread over them; pgmorph is still one thread
EOF
  report_runs changes 0 "$cores" sessions
fi
# The same ratio counted to each consumer's last commit on its target rather than to its
# confirmation to the source: the built-in's apply worker reports its position about 0.6 s after
# its last commit (2026-12-04: 0.76–0.90 s to commit, 1.35–1.50 s to confirm); pgmorph confirms
# as it commits. Both figures are printed so that neither reads as the whole story.
awk 'NR == FNR { if ($2 == "who=builtin") for (i = 3; i <= NF; i++) if ($i ~ /^applied_s=/) b[$1] = substr($i, 11); next }
     $2 == "who=pgmorph" { p = 0; for (i = 3; i <= NF; i++) if ($i ~ /^applied_s=/) p = substr($i, 11)
                           if (p > 0 && ($1 in b)) $0 = $0 " commitratio=" sprintf("%.2f", b[$1] / p) }
     { print }' "$BENCH_WORK/runs" "$BENCH_WORK/runs" >"$BENCH_WORK/runs.new"
mv "$BENCH_WORK/runs.new" "$BENCH_WORK/runs"
awk '$2 == "who=pgmorph" { for (i = 3; i <= NF; i++) if ($i ~ /^commitratio=/) printf "%s pgmorph: ratio to built-in counted to the last commit on the target %s\n", $1, substr($i, 13) }' \
  "$BENCH_WORK/runs" | sed 's/^run=/run /'
echo "ranges (min–max over the runs):"
echo "  built-in: wall s $(figure_range s 'who=builtin'), last commit s $(figure_range applied_s 'who=builtin'), CPU s source $(figure_range src 'who=builtin'), replica $(figure_range rep 'who=builtin'); per 100k changes: source $(figure_range src100k 'who=builtin'), replica $(figure_range rep100k 'who=builtin'); floor s $(figure_range floor 'who=builtin'), wall/floor $(figure_range wallfloor 'who=builtin')"
sel="who=pgmorph"
echo "  pgmorph: wall s $(figure_range s "$sel"), last commit s $(figure_range applied_s "$sel"), ratio to built-in $(figure_range ratio "$sel") (at both floors $(figure_range floorratio "$sel"); to the last commit $(figure_range commitratio "$sel")), floor s $(figure_range floor "$sel"), wall/floor $(figure_range wallfloor "$sel")"
echo "    CPU s: source $(figure_range src "$sel"), target $(figure_range tgt "$sel"), pgmorph $(figure_range pgm "$sel"); per 100k changes: source $(figure_range src100k "$sel"), target $(figure_range tgt100k "$sel"), pgmorph $(figure_range pgm100k "$sel")"
echo "    peak RSS MB $(figure_range rss "$sel"); source transactions $(figure_range txs "$sel") in target transactions $(figure_range commits "$sel")"
echo "goal (issue 17): ratio >= 0.9 with the foreign keys indexed"
if [[ $profile -eq 1 ]]; then profile_report "$tgt"; fi
