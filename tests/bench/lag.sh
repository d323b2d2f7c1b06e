#!/usr/bin/env bash
# tests/bench/lag.sh — steady-state lag: `pgmorph follow` runs while pgbench drives the OLTP mix
# (tests/workload/oltp.sql) at a fixed rate (pgbench --rate); prints p50/p99/max of the
# commit-to-apply delay per row and the source rate achieved. Goal: p99 < 1 s at 2,000 tx/s.
#
# How a delay is measured, per notification the mix inserts (14% of its transactions):
#  - on the source (TimeZone=UTC), dispatch_notification.created_at defaults to clock_timestamp(),
#    the moment of the insert, a few hundred microseconds before its commit;
#  - the mapping carries it into system_messages.created_at (naive timestamps read as UTC);
#  - on the target (track_commit_timestamp = on), an AFTER INSERT trigger on system_messages
#    (ENABLE ALWAYS, so it fires whatever session_replication_role pgmorph uses) adds a row to
#    bench_lag in pgmorph's own transaction; the delay is that transaction's commit timestamp
#    minus created_at — when the row became visible on the target, not merely written.
# Both clusters run on this machine, so both clocks are the same clock. Every notification the
# source got during the run must have its sample, or the run fails.
#
# With --pipeline-extra YAML (repeatable; or the env BENCH_PIPELINE_EXTRA), the YAML lines are
# appended to pgmorph's config as top-level keys, e.g. 'apply: {sessions: 2}' (issue 17 asks for
# this lag with parallel target sessions on); the block prints them.
#
# Usage: tests/bench/lag.sh [--rate TPS (2000)] [--seconds N (30)] [--scale N (1)] [--clients N (4)]
#                           [--pipeline-extra YAML]...
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run,
#        BENCH_PIPELINE_EXTRA (as --pipeline-extra).
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rate=2000 secs=30 scale=1 clients=4
pipeline_extra=()
[[ -n ${BENCH_PIPELINE_EXTRA:-} ]] && pipeline_extra+=("$BENCH_PIPELINE_EXTRA")
while [[ $# -gt 0 ]]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --pipeline-extra) pipeline_extra+=("$2"); shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$rate" "$secs" "$scale" "$clients"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "--rate, --seconds, --scale and --clients take positive integers"
done

require_pgmorph follow
bench_init lag

note "starting two clusters in $BENCH_WORK"
bench_cluster source 1 "${BENCH_PG_SETTINGS[@]}"
src_port=$PORT
bench_cluster target 0 "${BENCH_PG_SETTINGS[@]}" "track_commit_timestamp = on"
tgt_port=$PORT

src=$(conninfo "$src_port" legacy)
tgt=$(conninfo "$tgt_port" modern)
psql_run "$(conninfo "$src_port" postgres)" -c 'CREATE DATABASE legacy'
psql_run "$(conninfo "$tgt_port" postgres)" -c 'CREATE DATABASE modern'
load_dispatch_schema "$src"
# The mix leaves created_at to its default: make that the moment of the insert (the default
# now() is the start of the transaction).
psql_run "$src" -c 'ALTER TABLE dispatch_notification ALTER COLUMN created_at SET DEFAULT clock_timestamp()'
psql_run "$tgt" -f "$EXAMPLE/target.sql" >/dev/null
psql_run "$tgt" >/dev/null <<'SQL'
CREATE TABLE bench_lag (legacy_notification_id bigint, created_at timestamptz NOT NULL);
CREATE FUNCTION bench_record_lag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO bench_lag VALUES (NEW.legacy_notification_id, NEW.created_at);
  RETURN NULL;
END $$;
CREATE TRIGGER bench_lag AFTER INSERT ON system_messages
  FOR EACH ROW EXECUTE FUNCTION bench_record_lag();
ALTER TABLE system_messages ENABLE ALWAYS TRIGGER bench_lag;
SQL
cfg=$BENCH_WORK/pipeline.yaml
write_config "$src" "$tgt" "$cfg"
if [[ ${#pipeline_extra[@]} -gt 0 ]]; then
  # pgmorph validates its config: a misspelt key fails the first `follow`, before any data load.
  printf '%s\n' "${pipeline_extra[@]}" >>"$cfg"
fi

note "creating pgmorph's slot on the empty source, then loading the sample data (scale $scale)"
if ! "$PGMORPH_BIN" follow -c "$cfg" --until-caught-up >"$BENCH_WORK/pgmorph-setup.log" 2>&1; then
  tail -n 30 "$BENCH_WORK/pgmorph-setup.log" >&2
  die "pgmorph follow --until-caught-up failed (log above)"
fi
load_dispatch_data "$src" "$scale"

note "pgmorph follow in the background (log: $BENCH_WORK/pgmorph.log)"
"$PGMORPH_BIN" follow -c "$cfg" >"$BENCH_WORK/pgmorph.log" 2>&1 &
pgmorph_pid=$!
bench_track_pid "$pgmorph_pid"
wait_slot_confirmed "$src" pgmorph_bench "$(psql_value "$src" "SELECT pg_current_wal_lsn()")" 900
kill -0 "$pgmorph_pid" 2>/dev/null || { tail -n 30 "$BENCH_WORK/pgmorph.log" >&2; die "pgmorph follow died"; }
# The sample data's created_at values are years old: only the run's own rows are samples.
psql_run "$tgt" -c 'TRUNCATE bench_lag' >/dev/null
first_id=$(psql_value "$src" "SELECT coalesce(max(id), 0) FROM dispatch_notification")

load=$(load_now)
note "pgbench: OLTP mix at $rate tx/s for $secs s, $clients clients, load $load"
if ! PGTZ=UTC "$PGBIN/pgbench" -n -M prepared -c "$clients" -j 2 -R "$rate" -T "$secs" \
  -D scale="$scale" -f "$WORKLOAD" "$src" >"$BENCH_WORK/pgbench.out" 2>&1; then
  cat "$BENCH_WORK/pgbench.out" >&2
  die "pgbench failed"
fi
grep -q 'number of failed transactions: 0 ' "$BENCH_WORK/pgbench.out" ||
  { cat "$BENCH_WORK/pgbench.out" >&2; die "the workload had failed transactions"; }
load_end=$(load_now)
achieved=$(calc "$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$BENCH_WORK/pgbench.out" | head -n 1)" %.1f)
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$BENCH_WORK/pgbench.out")
schedule_lag=$(sed -n 's/^rate limit schedule lag: \(.*\)$/\1/p' "$BENCH_WORK/pgbench.out")

lsn=$(psql_value "$src" "SELECT pg_current_wal_lsn()")
wait_slot_confirmed "$src" pgmorph_bench "$lsn" 600
kill -0 "$pgmorph_pid" 2>/dev/null || { tail -n 30 "$BENCH_WORK/pgmorph.log" >&2; die "pgmorph follow died"; }
kill -TERM "$pgmorph_pid"
wait "$pgmorph_pid" || die "pgmorph follow did not stop cleanly (exit $?); see $BENCH_WORK/pgmorph.log"

inserted=$(psql_value "$src" "SELECT count(*) FROM dispatch_notification WHERE id > $first_id")
samples=$(psql_value "$tgt" "SELECT count(*) FROM bench_lag")
[[ $inserted -gt 0 ]] || die "the workload inserted no notification: nothing was measured"
[[ $samples == "$inserted" ]] ||
  die "the source got $inserted notifications during the run, the target recorded $samples"
IFS='|' read -r p50 p90 p99 pmax <<<"$(psql_value "$tgt" "
  SELECT round(percentile_cont(0.50) WITHIN GROUP (ORDER BY d))::int,
         round(percentile_cont(0.90) WITHIN GROUP (ORDER BY d))::int,
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d))::int,
         round(max(d))::int
    FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - created_at) * 1000 AS d
            FROM bench_lag) delays")"
# --rate is a goal pgbench may not reach on a busy machine: the verdict needs both.
rate_ok=$(verdict "$achieved" '>=' "$(calc "$rate * 0.95")")
lag_ok=$(verdict "$p99" '<' 1000)
goal=MISSED
[[ $rate_ok == MET && $lag_ok == MET ]] && goal=MET

cat <<EOF

==== steady-state lag: pgmorph follow under a fixed source rate ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, PostgreSQL $(psql_value "$src" "SHOW server_version")
source: OLTP mix, requested $rate tx/s for $secs s, achieved $achieved tx/s ($(fmt_int "$processed") transactions, $clients clients; schedule lag ${schedule_lag:-n/a})
load: $load at start, $load_end at end
commit-to-apply delay over $(fmt_int "$samples") notifications: p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, max $pmax ms
goal p99 < 1 s at $rate tx/s: $goal (p99 $lag_ok, rate $rate_ok)
pgmorph config extra keys: $( ((${#pipeline_extra[@]})) && printf '%s; ' "${pipeline_extra[@]}" || echo none)
EOF
grep -h 'apply sessions:' "$BENCH_WORK/pgmorph.log" | tail -n 1 || true
