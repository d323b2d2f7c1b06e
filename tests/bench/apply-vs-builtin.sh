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
#
# Usage: tests/bench/apply-vs-builtin.sh [--changes N (200000)] [--scale N (10)] [--clients N (2)]
#                                        [--index-fks] [--profile]
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

changes=200000 scale=10 clients=2 profile=0 index_fks=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --changes) changes=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --index-fks) index_fks=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$changes" "$scale" "$clients"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "--changes, --scale and --clients take positive integers"
done

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
note "pgmorph: applying the data load from its slot"
follow_until --until-caught-up
check_counts "$src" "$rep" "$tgt"

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

# Transactions committed in the target database: how many target transactions pgmorph made.
target_commits() {
  psql_value "$tgt" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}
# Source transactions pgmorph has applied so far (its checkpoint row counts them).
applied_txs() {
  psql_value "$tgt" "SELECT applied_transactions FROM pgmorph.checkpoint WHERE pipeline = 'bench'"
}

# --- 3. catch-up, one consumer at a time ------------------------------------------------------
install_watch "$rep"
install_watch "$tgt"

builtin_load=$(load_now)
note "built-in apply, load $builtin_load"
start_watch "$rep" "SELECT max(remote_lsn)::text FROM pg_replication_origin_status" \
  "$BENCH_WORK/builtin-applied"
cpu_src0=$(cluster_cpu source) cpu_rep0=$(cluster_cpu replica)
t0=$(now)
psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub ENABLE' >/dev/null
wait_slot_confirmed "$src" bench_sub "$lsn" 3600
t1=$(now)
builtin_cpu="source $(calc "$(cluster_cpu source) - $cpu_src0"), replica $(calc "$(cluster_cpu replica) - $cpu_rep0")"
stop_watch "$rep" "the built-in subscriber"
builtin_s=$(calc "$t1 - $t0" %.3f)
builtin_applied_s=$(calc "$(cat "$BENCH_WORK/builtin-applied") - $t0" %.3f)
note "built-in: confirmed after $builtin_s s, last commit after $builtin_applied_s s"
psql_run "$rep" -c 'ALTER SUBSCRIPTION bench_sub DISABLE' >/dev/null

pgmorph_load=$(load_now)
note "pgmorph follow --until-lsn $lsn, load $pgmorph_load"
start_watch "$tgt" "SELECT applied_transactions::text FROM pgmorph.checkpoint WHERE pipeline = 'bench'" \
  "$BENCH_WORK/pgmorph-applied"
cpu_src0=$(cluster_cpu source) cpu_tgt0=$(cluster_cpu target)
commits0=$(target_commits) applied0=$(applied_txs)
if [[ $profile -eq 1 ]]; then profile_reset "$tgt"; fi
t0=$(now)
run_measured "$BENCH_WORK/pgmorph.log" "$PGMORPH_BIN" follow -c "$cfg" --until-lsn "$lsn"
t1=$(now)
pgmorph_cpu="source $(calc "$(cluster_cpu source) - $cpu_src0"), target $(calc "$(cluster_cpu target) - $cpu_tgt0"), pgmorph $RUN_CPU_S"
if [[ $RUN_RC -ne 0 ]]; then
  tail -n 30 "$BENCH_WORK/pgmorph.log" >&2
  die "pgmorph follow --until-lsn $lsn exited with $RUN_RC (log above)"
fi
stop_watch "$tgt" "pgmorph"
pgmorph_s=$(calc "$t1 - $t0" %.3f)
pgmorph_applied_s=$(calc "$(cat "$BENCH_WORK/pgmorph-applied") - $t0" %.3f)
rss=$PEAK_RSS_MB
sleep 1  # a backend's counters reach pg_stat_database when it exits (pgmorph has)
commits=$(($(target_commits) - commits0)) applied=$(($(applied_txs) - applied0))
note "pgmorph: exited after $pgmorph_s s, last commit after $pgmorph_applied_s s"

check_counts "$src" "$rep" "$tgt"

builtin_rate=$(calc "$made / $builtin_s" %.0f)
pgmorph_rate=$(calc "$made / $pgmorph_s" %.0f)
builtin_applied_rate=$(calc "$made / $builtin_applied_s" %.0f)
pgmorph_applied_rate=$(calc "$made / $pgmorph_applied_s" %.0f)
ratio=$(calc "$pgmorph_rate / $builtin_rate")
applied_ratio=$(calc "$pgmorph_applied_rate / $builtin_applied_rate")
cat <<EOF

==== change apply: pgmorph follow vs built-in logical replication ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, PostgreSQL $(psql_value "$src" "SHOW server_version")
backlog: $(fmt_int "$made") row changes (OLTP mix, $clients clients), $wal_mb MB of WAL, on dispatch scale $scale$([[ $index_fks -eq 1 ]] && echo ", foreign keys indexed on both sides")
built-in apply (until confirmed_flush_lsn >= L):  $builtin_s s  $(fmt_int "$builtin_rate") changes/s   (load $builtin_load)
pgmorph follow --until-lsn L (transformed):      $pgmorph_s s  $(fmt_int "$pgmorph_rate") changes/s   (load $pgmorph_load)
ratio pgmorph / built-in:  $ratio   (goal >= 2.0: $(verdict "$ratio" '>=' 2.0))
  by last commit on each target: built-in $builtin_applied_s s ($(fmt_int "$builtin_applied_rate")/s), pgmorph $pgmorph_applied_s s ($(fmt_int "$pgmorph_applied_rate")/s), ratio $applied_ratio
pgmorph peak RSS: $rss MB; $(fmt_int "$applied") source transactions applied in $(fmt_int "$commits") target transactions
CPU seconds used: built-in: $builtin_cpu | pgmorph: $pgmorph_cpu
EOF
if [[ $profile -eq 1 ]]; then profile_report "$tgt"; fi
