#include "app/metrics/PipelineMetrics.h"

#include <sys/time.h>

namespace pgmorph {

namespace {
double nowSeconds() {
  timeval tv;
  ::gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}
}  // namespace

PipelineMetrics::PipelineMetrics(double maxLagSeconds) : health_(maxLagSeconds) {
  Metrics& m = registry_;
  m.declareGauge("pgmorph_start_time_seconds", "Start time of the process, Unix seconds.");
  m.set("pgmorph_start_time_seconds", nowSeconds());
  m.declareGauge("pgmorph_lag_bytes",
                 "Source WAL bytes not yet committed on the target (source's current WAL "
                 "position minus the checkpoint), at the last progress tick.");
  m.declareGauge("pgmorph_lag_seconds",
                 "Source commit to target commit delay of the last applied transaction; 0 when "
                 "caught up.");
  m.declareGauge(
      "pgmorph_checkpoint_lsn",
      "The checkpoint committed on the target, as a WAL byte position (pg_lsn - '0/0').");
  m.declareGauge("pgmorph_slot_retained_wal_bytes",
                 "WAL the source keeps for the slot (current WAL position minus restart_lsn).");
  m.declareGauge("pgmorph_slot_max_retained_wal_bytes",
                 "slot.max_retained_wal of the pipeline file (absent when not set).");
  m.declareGauge("pgmorph_slot_retained_wal_exceeded",
                 "1 while the slot's retained WAL is above slot.max_retained_wal, else 0.");
  m.declareGauge("pgmorph_heartbeat_round_trip_seconds",
                 "Heartbeat written on the source -> received on the stream, the last one.");
  m.declareGauge("pgmorph_heartbeat_stalled",
                 "1 while a heartbeat is more than 3 intervals overdue (walsender stuck or far "
                 "behind), else 0.");
  m.set("pgmorph_heartbeat_stalled", 0);
  m.declareGauge("pgmorph_journal_start_lsn",
                 "The journal holds every transaction committing after this WAL byte position.");
  m.declareGauge("pgmorph_journal_end_lsn",
                 "Commit end of the last complete transaction in the journal (WAL byte position).");
  m.declareGauge("pgmorph_journal_bytes", "Bytes of the journal's segment files.");
  m.declareGauge("pgmorph_journal_segments", "Segment files of the journal.");
  m.declareGauge(
      "pgmorph_journal_consumer_lag_bytes",
      "Journal end minus a consumer's applied position (0 when caught up), by consumer.");
  m.declareGauge("pgmorph_journal_consumer_behind_retention",
                 "1 when retention deleted changes a consumer had not applied (its position is "
                 "before the journal's start): it needs a new snapshot; else 0.");
  m.declareCounter("pgmorph_journal_forced_retention_total",
                   "Consumers whose unapplied changes journal retention (retain_bytes) deleted, by "
                   "consumer (`pgmorph journal`).");
  m.declareGauge("pgmorph_streaming", "1 while streaming and connected to both sides, else 0.");
  m.set("pgmorph_streaming", 0);
  m.declareCounter("pgmorph_source_transactions_applied_total",
                   "Source transactions committed on the target.");
  m.declareCounter("pgmorph_source_transactions_skipped_total",
                   "Source transactions skipped as already applied (at or below the checkpoint).");
  m.declareCounter("pgmorph_target_commits_total", "Target transactions committed.");
  m.declareCounter("pgmorph_row_changes_applied_total",
                   "Source row changes turned into target writes and committed, by source table "
                   "and op (insert, update, delete, truncate).");
  m.declareCounter("pgmorph_row_changes_unmapped_total",
                   "Source row changes of tables neither mapped nor in ignore: (skipped).");
  m.declareCounter("pgmorph_unmapped_changes_total",
                   "Source row changes skipped because their table is neither mapped nor in "
                   "ignore: (a misspelled or forgotten mapping?), by source table, committed.");
  m.declareCounter("pgmorph_row_changes_ignored_total",
                   "Source row changes of tables in ignore: (skipped on purpose).");
  m.declareCounter("pgmorph_target_writes_applied_total",
                   "Target writes that landed, by source table.");
  m.declareGauge("pgmorph_parked_rows",
                 "Rows parked now in the state schema, by target table and reason "
                 "(missing_parent, null_reference, refused, unconvertible).");
  m.declareCounter("pgmorph_parking_events_total",
                   "What this process did with parked rows, by source table and event (parked: "
                   "refused or not convertible; unparked: parked then applied; discarded: parked "
                   "then made moot; nulled: references written as NULL).");
  m.declareCounter(
      "pgmorph_row_changes_filtered_total",
      "Source row changes no target takes (where:, unmapped tables), by source table.");
  m.declareCounter("pgmorph_snapshot_rows_copied_total",
                   "Rows the snapshot stored on the target, by source table (every target it "
                   "feeds, every key range).");
  m.declareCounter("pgmorph_reconnects_total",
                   "Sessions that failed and were retried, by the side the error named.");
  m.declareHistogram("pgmorph_batch_size_changes", "Source row changes per target transaction.",
                     {1, 10, 100, 1000, 5000, 10000, 50000});
  m.declareHistogram("pgmorph_apply_latency_seconds",
                     "Source commit to target commit delay, per target transaction.",
                     {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
}

void PipelineMetrics::publishTotals(const ApplyStats& stats) {
  Metrics& m = registry_;
  m.set("pgmorph_source_transactions_applied_total",
        static_cast<double>(stats.transactionsApplied));
  m.set("pgmorph_source_transactions_skipped_total",
        static_cast<double>(stats.transactionsSkipped));
  m.set("pgmorph_target_commits_total", static_cast<double>(stats.targetCommits));
  m.set("pgmorph_row_changes_unmapped_total", static_cast<double>(stats.changesUnmapped));
  m.set("pgmorph_row_changes_ignored_total", static_cast<double>(stats.changesIgnored));
  for (const auto& [table, n] : stats.unmapped)
    m.set("pgmorph_unmapped_changes_total", {{"table", table}}, static_cast<double>(n));
  m.set("pgmorph_checkpoint_lsn", static_cast<double>(stats.checkpoint.value()));
  for (const auto& [table, ops] : stats.ops) {
    static constexpr const char* kOps[] = {"insert", "update", "delete", "truncate"};
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (ops[i] != 0)
        m.set("pgmorph_row_changes_applied_total", {{"table", table}, {"op", kOps[i]}},
              static_cast<double>(ops[i]));
  }
  for (const auto& [table, c] : stats.tables) {
    if (c.applied) m.set("pgmorph_target_writes_applied_total", {{"table", table}}, c.applied);
    if (c.filtered) m.set("pgmorph_row_changes_filtered_total", {{"table", table}}, c.filtered);
    std::pair<const char*, std::uint64_t> parked[] = {{"parked", c.parked},
                                                      {"unparked", c.unparked},
                                                      {"discarded", c.discarded},
                                                      {"nulled", c.nulled}};
    for (const auto& [reason, n] : parked)
      if (n) m.set("pgmorph_parking_events_total", {{"table", table}, {"event", reason}}, n);
  }
}

void PipelineMetrics::onTargetCommit(const ApplyStats& stats, std::size_t batchChanges,
                                     std::optional<double> applyDelaySeconds) {
  publishTotals(stats);
  registry_.observe("pgmorph_batch_size_changes", static_cast<double>(batchChanges));
  if (applyDelaySeconds) registry_.observe("pgmorph_apply_latency_seconds", *applyDelaySeconds);
}

void PipelineMetrics::onProgress(const ApplyStats& stats, Lsn sourceCurrent,
                                 std::optional<std::uint64_t> slotRetainedBytes) {
  publishTotals(stats);
  std::uint64_t lagBytes =
      sourceCurrent > stats.checkpoint ? sourceCurrent.value() - stats.checkpoint.value() : 0;
  // Idle means caught up: the lag is 0, not the age of the last change.
  double lagSeconds = lagBytes == 0 ? 0.0 : stats.lastApplyDelaySeconds;
  registry_.set("pgmorph_lag_bytes", static_cast<double>(lagBytes));
  registry_.set("pgmorph_lag_seconds", lagSeconds);
  if (slotRetainedBytes)
    registry_.set("pgmorph_slot_retained_wal_bytes", static_cast<double>(*slotRetainedBytes));
  health_.setLagSeconds(lagSeconds);
}

void PipelineMetrics::onHeartbeat(double roundTripSeconds) {
  registry_.set("pgmorph_heartbeat_round_trip_seconds", roundTripSeconds);
}

void PipelineMetrics::onHeartbeatStall(const std::string& reason) {
  registry_.set("pgmorph_heartbeat_stalled", reason.empty() ? 0 : 1);
  health_.setStalled(reason);
}

void PipelineMetrics::onRetainedWalLimit(std::uint64_t retainedBytes, std::uint64_t limit) {
  if (limit == 0) return;
  registry_.set("pgmorph_slot_max_retained_wal_bytes", static_cast<double>(limit));
  registry_.set("pgmorph_slot_retained_wal_exceeded", retainedBytes > limit ? 1 : 0);
}

void PipelineMetrics::onReconnect(const std::string& side) {
  registry_.add("pgmorph_reconnects_total", {{"side", side}}, 1);
}

void PipelineMetrics::onSnapshotRows(const std::string& sourceTable, std::uint64_t rows) {
  registry_.set("pgmorph_snapshot_rows_copied_total", {{"table", sourceTable}},
                static_cast<double>(rows));
}

void PipelineMetrics::onParkedCounts(const std::vector<ParkedStore::TableCount>& counts) {
  std::set<Metrics::Labels> now;
  for (const auto& c : counts) {
    Metrics::Labels labels{{"table", c.targetTable}, {"reason", std::string(toString(c.kind))}};
    registry_.set("pgmorph_parked_rows", labels, static_cast<double>(c.rows));
    now.insert(labels);
  }
  // Rows retried or discarded since: their series read 0 rather than their last count.
  for (const auto& labels : parkedSeries_)
    if (!now.count(labels)) registry_.set("pgmorph_parked_rows", labels, 0);
  parkedSeries_.insert(now.begin(), now.end());
}

void PipelineMetrics::onJournal(const JournalInfo& info) {
  registry_.set("pgmorph_journal_start_lsn", static_cast<double>(info.start.value()));
  registry_.set("pgmorph_journal_end_lsn", static_cast<double>(info.end.value()));
  registry_.set("pgmorph_journal_bytes", static_cast<double>(info.bytes));
  registry_.set("pgmorph_journal_segments", static_cast<double>(info.segments));
  std::set<Metrics::Labels> seen;
  for (const auto& c : info.consumers) {
    Metrics::Labels labels{{"consumer", c.name}};
    seen.insert(labels);
    journalConsumerSeries_.insert(labels);
    std::uint64_t lag = info.end > c.applied ? info.end.value() - c.applied.value() : 0;
    registry_.set("pgmorph_journal_consumer_lag_bytes", labels, static_cast<double>(lag));
    registry_.set("pgmorph_journal_consumer_behind_retention", labels,
                  c.applied < info.start ? 1 : 0);
  }
  // A consumer whose position file was removed: its series reads 0 rather than a stale lag.
  for (const auto& labels : journalConsumerSeries_)
    if (!seen.count(labels)) {
      registry_.set("pgmorph_journal_consumer_lag_bytes", labels, 0);
      registry_.set("pgmorph_journal_consumer_behind_retention", labels, 0);
    }
}

void PipelineMetrics::onJournalForcedRetention(const std::vector<std::string>& consumers) {
  for (const auto& c : consumers)
    registry_.add("pgmorph_journal_forced_retention_total", {{"consumer", c}}, 1);
}

}  // namespace pgmorph
