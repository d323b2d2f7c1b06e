#!/usr/bin/env bash
# tests/bench/journal-apply.sh — what the journal costs `pgmorph follow`, and how fast `replay`
# reads it back. One run, one pair of clusters, two pipelines on the same source (each its own
# slot and target database): "plain" without a journal, "journal" with one (confirm: journal).
#  1. backlog: the sample data plus --seconds of the OLTP mix unthrottled, written while neither
#     pipeline runs; then each catches up with `follow --until-caught-up` in turn: changes/s;
#  2. steady lag: each in turn follows while pgbench drives the mix at --rate for --seconds: the
#     p99 commit-to-apply delay (as tests/bench/lag.sh measures it: a trigger on the target);
#  3. replay: `pgmorph replay` of the journal pipeline's whole journal into a third, empty target:
#     changes/s, against the catch-up from the slot of step 1 (the same mapping and target work).
#
# Usage: tests/bench/journal-apply.sh [--rate TPS (1000)] [--seconds N (20)] [--scale N (1)]
# Env:   PGMORPH_BIN (build/pgmorph), BENCH_KEEP=1 keeps the work directory (logs) after the run.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rate=1000 secs=20 scale=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$rate" "$secs" "$scale"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "--rate, --seconds and --scale take positive integers"
done

require_pgmorph follow replay
bench_init journal

note "starting two clusters in $BENCH_WORK"
bench_cluster source 1 "${BENCH_PG_SETTINGS[@]}"
src_port=$PORT
bench_cluster target 0 "${BENCH_PG_SETTINGS[@]}" "track_commit_timestamp = on"
tgt_port=$PORT
src=$(conninfo "$src_port" legacy)
psql_run "$(conninfo "$src_port" postgres)" -c 'CREATE DATABASE legacy'
load_dispatch_schema "$src"
psql_run "$src" -c 'ALTER TABLE dispatch_notification ALTER COLUMN created_at SET DEFAULT clock_timestamp()'

declare -A tgt cfg
for p in plain journal replay; do
  psql_run "$(conninfo "$tgt_port" postgres)" -c "CREATE DATABASE modern_$p"
  tgt[$p]=$(conninfo "$tgt_port" "modern_$p")
  psql_run "${tgt[$p]}" -f "$EXAMPLE/target.sql" >/dev/null
  psql_run "${tgt[$p]}" >/dev/null <<'SQL'
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
  cfg[$p]=$BENCH_WORK/$p.yaml
  write_config "$src" "${tgt[$p]}" "${cfg[$p]}"
done
# Own slots; the journal pipeline (and the replay of its journal) have the journal.
sed -i 's/^  slot: pgmorph_bench$/  slot: pgmorph_plain/' "${cfg[plain]}"
for p in journal replay; do
  sed -i 's/^  slot: pgmorph_bench$/  slot: pgmorph_journal/' "${cfg[$p]}"
  printf 'journal:\n  dir: %s\n  confirm: journal\n' "$BENCH_WORK/journal" >>"${cfg[$p]}"
done

note "creating both slots on the empty source"
for p in plain journal; do
  "$PGMORPH_BIN" follow -c "${cfg[$p]}" --until-caught-up >"$BENCH_WORK/setup-$p.log" 2>&1 ||
    { tail -n 30 "$BENCH_WORK/setup-$p.log" >&2; die "pgmorph follow ($p) failed"; }
done
journal_start=$(psql_value "${tgt[journal]}" "SELECT lsn FROM pgmorph.checkpoint")

note "backlog: sample data (scale $scale) and $secs s of the mix, unthrottled"
before=$(source_row_changes "$src")
load_dispatch_data "$src" "$scale"
PGTZ=UTC "$PGBIN/pgbench" -n -M prepared -c 4 -j 2 -T "$secs" -D scale="$scale" -f "$WORKLOAD" \
  "$src" >"$BENCH_WORK/pgbench-backlog.out" 2>&1 || { cat "$BENCH_WORK/pgbench-backlog.out" >&2; die "pgbench failed"; }
backlog=$(( $(source_row_changes "$src") - before ))

declare -A catchup rate_of cpu
for p in plain journal; do
  load=$(load_now)
  run_measured "$BENCH_WORK/catchup-$p.log" "$PGMORPH_BIN" follow -c "${cfg[$p]}" --until-caught-up
  [[ $RUN_RC == 0 ]] || { tail -n 30 "$BENCH_WORK/catchup-$p.log" >&2; die "catch-up ($p) failed"; }
  catchup[$p]=$(calc "$RUN_END - $RUN_START")
  rate_of[$p]=$(calc "$backlog / ${catchup[$p]}" %.0f)
  cpu[$p]=$RUN_CPU_S
  note "catch-up $p: $(fmt_int "$backlog") changes in ${catchup[$p]} s = $(fmt_int "${rate_of[$p]}")/s, pgmorph CPU ${cpu[$p]} s, load $load"
done
check_counts "$src" "" "${tgt[plain]}"
check_counts "$src" "" "${tgt[journal]}"

declare -A p99 p50
for p in plain journal; do
  first_id=$(psql_value "$src" "SELECT coalesce(max(id), 0) FROM dispatch_notification")
  "$PGMORPH_BIN" follow -c "${cfg[$p]}" >"$BENCH_WORK/lag-$p.log" 2>&1 &
  pid=$!
  bench_track_pid "$pid"
  # Caught up with what the other pipeline's run wrote (on the target: with confirm: journal the
  # slot runs ahead of the target) before the measured run starts.
  wait_for 300 "pipeline $p to catch up" "${tgt[$p]}" \
    "SELECT coalesce(max(legacy_notification_id), 0) >= current_setting('bench.id')::bigint
       FROM system_messages" id="$first_id"
  note "steady lag $p: the mix at $rate tx/s for $secs s, load $(load_now)"
  PGTZ=UTC "$PGBIN/pgbench" -n -M prepared -c 4 -j 2 -R "$rate" -T "$secs" -D scale="$scale" \
    -f "$WORKLOAD" "$src" >"$BENCH_WORK/pgbench-$p.out" 2>&1 || { cat "$BENCH_WORK/pgbench-$p.out" >&2; die "pgbench failed"; }
  inserted=$(psql_value "$src" "SELECT count(*) FROM dispatch_notification WHERE id > $first_id")
  wait_for 300 "pipeline $p to apply the run's $inserted notifications" "${tgt[$p]}" \
    "SELECT count(*) >= current_setting('bench.n')::bigint FROM bench_lag
      WHERE legacy_notification_id > current_setting('bench.id')::bigint" n="$inserted" id="$first_id"
  kill -TERM "$pid"
  wait "$pid" || die "pgmorph follow ($p) did not stop cleanly; see $BENCH_WORK/lag-$p.log"
  samples=$(psql_value "${tgt[$p]}" "SELECT count(*) FROM bench_lag WHERE legacy_notification_id > $first_id")
  [[ $samples == "$inserted" ]] || die "$p: the source got $inserted notifications, the target recorded $samples"
  IFS='|' read -r p50[$p] p99[$p] <<<"$(psql_value "${tgt[$p]}" "
    SELECT round(percentile_cont(0.50) WITHIN GROUP (ORDER BY d))::int,
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d))::int
      FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - created_at) * 1000 AS d
              FROM bench_lag WHERE legacy_notification_id > $first_id) delays")"
  note "steady lag $p: p50 ${p50[$p]} ms, p99 ${p99[$p]} ms over $samples notifications"
done

note "replay of the journal ($journal_start onwards) into an empty target"
until_lsn=$(psql_value "${tgt[journal]}" "SELECT lsn FROM pgmorph.checkpoint")
run_measured "$BENCH_WORK/replay.log" "$PGMORPH_BIN" replay -c "${cfg[replay]}" \
  --from-lsn "$journal_start" --until-lsn "$until_lsn"
[[ $RUN_RC == 0 ]] || { tail -n 30 "$BENCH_WORK/replay.log" >&2; die "replay failed"; }
replay_s=$(calc "$RUN_END - $RUN_START")
replayed=$(sed -n 's/.*replayed [0-9]* transaction(s), \([0-9]*\) row change(s).*/\1/p' "$BENCH_WORK/replay.log" | tail -n 1)
[[ -n $replayed ]] || die "no 'replayed ... row change(s)' line in $BENCH_WORK/replay.log"
replay_rate=$(calc "$replayed / $replay_s" %.0f)
check_counts "$src" "" "${tgt[replay]}"
journal_bytes=$(du -sb "$BENCH_WORK/journal" | cut -f1)

cat <<EOT

==== the journal's cost in follow, and replay from it ====
date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, PostgreSQL $(psql_value "$src" "SHOW server_version"), load $(load_now)
catch-up of $(fmt_int "$backlog") changes:  plain $(fmt_int "${rate_of[plain]}")/s (${catchup[plain]} s, CPU ${cpu[plain]} s)   journal $(fmt_int "${rate_of[journal]}")/s (${catchup[journal]} s, CPU ${cpu[journal]} s)   ratio $(calc "${rate_of[journal]} / ${rate_of[plain]}")
steady lag at $rate tx/s:  plain p50 ${p50[plain]} ms p99 ${p99[plain]} ms   journal p50 ${p50[journal]} ms p99 ${p99[journal]} ms
replay from the journal: $(fmt_int "$replayed") changes in $replay_s s = $(fmt_int "$replay_rate")/s, CPU $RUN_CPU_S s   (follow from the slot, plain: $(fmt_int "${rate_of[plain]}")/s)
journal size: $(fmt_int "$journal_bytes") bytes
EOT
