// PipelineMetrics: pgmorph's metrics (names, labels, units: README "Metrics and health") on a
// Metrics registry, and the places that feed them. The apply path already keeps its counts
// (ApplyStats, TableCounts, ApplyOpCounts); they are published here at natural points — after
// each target commit (when they are true), at each progress tick, at the snapshot's progress
// tick — never per change.
//
// Thread-safety: as Metrics (every call locks the registry); the writers are the follow thread
// and the snapshot's orchestrator thread, the reader is the HTTP thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "app/follow/ApplyStats.h"
#include "app/metrics/Health.h"
#include "app/metrics/Metrics.h"
#include "cdc/model/Lsn.h"
#include "state/ParkedStore.h"
#include "state/journal/Journal.h"

namespace pgmorph {

class PipelineMetrics {
 public:
  explicit PipelineMetrics(double maxLagSeconds);

  Metrics& registry() { return registry_; }
  Health& health() { return health_; }

  // After a target commit: the run's totals (ApplyStats) and one observation of the batch
  // (source row changes in it) and of the apply latency (last source commit -> target commit).
  void onTargetCommit(const ApplyStats& stats, std::size_t batchChanges,
                      std::optional<double> applyDelaySeconds);
  // At a progress tick: the lag behind `sourceCurrent` (0 when caught up, also when idle),
  // the WAL the slot makes the source keep (when known), and the totals again (idle advances
  // of the checkpoint commit nothing else).
  void onProgress(const ApplyStats& stats, Lsn sourceCurrent,
                  std::optional<std::uint64_t> slotRetainedBytes);
  // A heartbeat came back after `roundTripSeconds` (written -> received on the stream).
  void onHeartbeat(double roundTripSeconds);
  // The heartbeat's stall (Heartbeat::stallReason(), "" = none): gauge and /healthz.
  void onHeartbeatStall(const std::string& reason);
  // The slot's retained WAL against slot.max_retained_wal (`limit` 0 = none).
  void onRetainedWalLimit(std::uint64_t retainedBytes, std::uint64_t limit);
  // A failed session that will be retried: a reconnect of `side` ("source" or "target").
  void onReconnect(const std::string& side);
  // The snapshot's rows stored so far from one source table (as the mapping names it), over
  // every copy task that reads it.
  void onSnapshotRows(const std::string& sourceTable, std::uint64_t rows);
  // The parked store's entries now, by target table and kind (ParkedStore::countByTable): the
  // pgmorph_parked_rows gauge. A series absent from `counts` goes to 0.
  void onParkedCounts(const std::vector<ParkedStore::TableCount>& counts);
  // The journal (`journal:` or source.journal), read from its directory about every second:
  // its range, size, and each consumer's position and distance behind its end. A consumer
  // behind the journal's start lost changes to retention (…_behind_retention 1). A consumer
  // series that is gone from `info` is dropped.
  void onJournal(const JournalInfo& info);
  // `pgmorph journal`'s retention deleted changes these consumers had not applied.
  void onJournalForcedRetention(const std::vector<std::string>& consumers);

 private:
  void publishTotals(const ApplyStats& stats);  // counters, checkpoint

  Metrics registry_;
  Health health_;
  std::set<Metrics::Labels> parkedSeries_;
  std::set<Metrics::Labels> journalConsumerSeries_;  // every consumer series set so far  // every
                                                     // pgmorph_parked_rows series set so far
};

}  // namespace pgmorph
