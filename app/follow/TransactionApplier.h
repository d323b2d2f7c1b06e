// TransactionApplier: the glue of one follow run. Takes decoded Changes in stream order,
// transforms them (Transformer, with the mapping's on_error; ChangeParker keeps the changes
// that cannot be converted), and hands the writes to the sink (ParkingApplier), grouping
// whole source transactions into target transactions.
//
// Owns: the open target transaction's bookkeeping (which source commits it carries, where
// the checkpoint goes when it commits) and the write buffer. Memory stays bounded: writes are
// applied in chunks of `apply.batchChanges` inside the open target transaction, whatever the
// size of one source transaction (invariant 8).
//
// Exactly-once (invariant 1): a target transaction only ever commits at a source commit
// boundary, and the checkpoint row moves in it to the last carried commit's end LSN. A source
// transaction whose commit end is at or below the checkpoint is skipped whole.
//
// Order and speed (invariant 4): the writes of consecutive source transactions are buffered
// across their commits (up to apply.batchChanges) and applied as one batch, ordered by
// BatchOrderer over the target's FK graph (read from the target's catalog when the applier
// is made) and written by TargetWriter::applyOrdered (multi-row statements). A chunk of a
// large source transaction is ordered on its own: nothing is coalesced across a chunk that is
// already written.
//
// Overlap (the target works while pgmorph transforms): a batch that ends at a source commit
// boundary is handed over with commitOverlapped(): its parked entries and parents are looked up
// and parked (ParkingApplier::start, round trips), its statements are sent in one pipeline, and
// the call returns at once; the next source changes are decoded and transformed into a second
// buffer while the target runs them. The batch's results are read — refusals isolated and
// parked, what landed recorded, rows waiting for it retried — and its target transaction
// committed with its checkpoint (finishInFlight) before anything else touches the target: the
// next batch's hand-over, commitIfPossible(), or a change whose row has a parked unconvertible
// change (ChangeParker's prepare). Why the early transform cannot bring back stale data:
// the transform is pure (a change's writes depend on the change and the mapping only, never on
// the target), and everything that depends on what is on the target — merging with parked
// entries, the parent gate, parking, the retries of waiting rows — runs in ParkingApplier
// start()/finish(), which only ever run after the previous batch's finish(). A parent parked in
// batch N is therefore in the parked table when batch N+1's gate looks for it; a row refused in
// N is parked before N+1's write of it is merged with it; a delete in N is on the target before
// N+1's re-insert is gated. One batch in flight at most, one target transaction at a time: the
// commit of N precedes the BEGIN of N+1, so exactly-once and FK order are those of the
// sequential apply; the checkpoint only moves when N's COMMIT has returned (the slot is never
// confirmed past it). A failure while N is in flight surfaces at the next call that finishes
// it; the caller's abort() then rolls back N and drops the transformed N+1 (the stream sends
// both again from the checkpoint). Memory: two batches (the one in flight, the one filling).
//
// One bad row never stops the stream (invariants 4 and 5): a change the transform cannot
// convert is parked by ChangeParker, and batches go through ParkingApplier, which parks what
// cannot land (missing parent, refused by the target) — both in the same target transaction —
// and applies parked rows when what they wait for arrives. Only a mapping that says `fail`
// (on_missing / on_error) stops the stream — and a change of a source table's columns that
// `on_schema_change` does not let through (DriftGuard): it throws before the change is
// transformed, and the caller's abort() rolls back the open target transaction.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "app/follow/ApplyStats.h"
#include "app/follow/DriftGuard.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/model/Change.h"
#include "sink/ChangeParker.h"
#include "sink/ParkingApplier.h"
#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "state/ParkedStore.h"
#include "state/UnmappedStore.h"
#include "transform/BatchOrderer.h"
#include "transform/Transformer.h"

namespace pgmorph {

class TransactionApplier {
 public:
  // Reads the target's FK graph for the tables the transformer's plans write (one catalog
  // query on the writer's connection).
  TransactionApplier(const PipelineConfig& config, Transformer& transformer, TargetWriter& writer,
                     Lsn checkpoint, ApplyStats& stats);

  // Feeds one decoded message (B, I/U/D/T, C or M) in stream order.
  void onChange(const Change& change);

  // Inside a source transaction (B seen, C not yet): the target transaction cannot commit.
  bool inSourceTransaction() const { return inSource_; }
  // Source commits have been applied but not yet committed on the target.
  bool hasPendingCommits() const { return pendingCommits_ > 0 || inflightCommit_.has_value(); }
  // True when the batch limits say the open target transaction should commit now.
  bool batchFull() const;
  // Commits the open target transaction with the checkpoint, if there is anything to commit
  // and no source transaction is half-way; a batch in flight is finished (and committed, if
  // a commit follows it) first, also half-way through a source transaction. Returns true when
  // it committed.
  bool commitIfPossible();
  // For a full batch in a backlog (see "Overlap" above): hands the buffered writes to the
  // target with their commit to follow, and returns without waiting for them. Does nothing
  // half-way through a source transaction. Returns true when an earlier batch committed.
  bool commitOverlapped();
  // Moves the checkpoint to `lsn` in a transaction of its own, when the stream is idle
  // (nothing in flight, everything received applied). Keeps the slot from retaining WAL on an
  // idle source without ever confirming past what the target has recorded. `sourceMicros`
  // (Unix µs, 0 = none): the source time at which `lsn` was current (a heartbeat's), recorded
  // as the checkpoint's source time so that `status` measures lag from it.
  void advanceIdle(Lsn lsn, std::int64_t sourceMicros = 0);
  // Rolls back whatever the open target transaction holds; the stream will send it again.
  void abort();

  Lsn checkpoint() const { return checkpoint_; }
  // Publish to `metrics` after each target commit (nullptr: none). Not owned; outlives this.
  void setMetrics(PipelineMetrics* metrics) { metrics_ = metrics; }

 private:
  // What one target commit carries: the source commits, the checkpoint, the counts.
  struct Carried {
    std::int64_t commits = 0;
    Lsn end;
    std::int64_t commitTime = 0;
    std::size_t changes = 0;
    std::unordered_map<const TableMapping*, std::array<std::uint64_t, 4>> ops;
    std::map<std::string, std::uint64_t> unmapped;
  };
  void beginTargetIfNeeded();
  void markPendingOpen();  // the pending commit starts counting towards the batch limits
  // Sends batch_ (after finishing the batch in flight); true when that one committed.
  bool sendBuffered();
  // Reads the batch in flight and commits it if a commit follows it; true when it did.
  bool finishInFlight();
  void applyBuffered();  // sendBuffered + finishInFlight: nothing left in flight
  Carried takePending();
  void commitCarried(Carried& c);
  // Transforms one row change or truncate into batch_, with what is parked for its row.
  TransformOutcome transform(const Change& change);
  const TableMapping* mappingOf(const Change& change);  // nullptr: not mapped
  // A row change of a table the mapping does not name: counted (ignored apart), and the first
  // one of a table neither mapped nor ignored is a warning.
  void countUnmapped(const Change& change);
  [[noreturn]] void failTransform(const Change& change, const TransformOutcome& outcome) const;

  const PipelineConfig& config_;
  Transformer& transformer_;
  TargetWriter& writer_;
  ApplyStats& stats_;
  TargetCatalog catalog_;
  BatchOrderer orderer_;  // over catalog_'s graph: declared after it
  ParkedStore parked_;
  ParkingApplier parking_;  // over catalog_, orderer_ and parked_: declared after them
  ChangeParker changes_;    // over parked_
  DriftGuard drift_;        // schema drift of the mapped source tables
  WriteBatch batch_;        // being transformed
  WriteBatch inflight_;     // sent to the target, results not read yet (parking_.inFlight())
  std::optional<Carried> inflightCommit_;    // the commit that follows inflight_
  const TableMapping* lastTable_ = nullptr;  // mappingOf()'s last answer

  Lsn checkpoint_;  // committed on the target
  bool inSource_ = false;
  bool skipping_ = false;  // current source transaction is at or below the checkpoint
  TransactionInfo current_;
  bool targetOpen_ = false;
  // The bookkeeping of the next target commit (handed over by takePending()).
  bool pendingOpen_ = false;  // counts towards the batch limits since pendingOpenedAt_
  std::chrono::steady_clock::time_point pendingOpenedAt_;
  std::int64_t pendingCommits_ = 0;
  Lsn pendingEnd_;  // end LSN of the last source commit carried by the open target txn
  std::int64_t pendingCommitTime_ = 0;
  std::size_t changesInTarget_ = 0;
  // Source row changes written in the open target transaction, by table and op: added to
  // ApplyStats::ops when it commits, dropped when it rolls back.
  std::unordered_map<const TableMapping*, std::array<std::uint64_t, 4>> pendingOps_;
  // Row changes of tables neither mapped nor ignored skipped in the open target transaction, by
  // "schema.table": stored (UnmappedStore) with the checkpoint, dropped when it rolls back.
  std::map<std::string, std::uint64_t> pendingUnmapped_;
  std::set<std::string> warnedUnmapped_;  // tables already warned about (once per process)
  UnmappedStore unmappedStore_;
  PipelineMetrics* metrics_ = nullptr;
};

}  // namespace pgmorph
