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
// N+1's re-insert is gated. With one session: one batch in flight at most, one target transaction
// at a time: the commit of N precedes the BEGIN of N+1, so exactly-once and FK order are those of
// the sequential apply; the checkpoint only moves when N's COMMIT has returned (the slot is never
// confirmed past it). A failure while N is in flight surfaces at the next call that finishes
// it; the caller's abort() then rolls back N and drops the transformed N+1 (the stream sends
// both again from the checkpoint). Memory: two batches (the one in flight, the one filling).
//
// Sessions (apply.sessions: N > 1): each batch that starts a target transaction goes to one of N
// target sessions (lanes), and a batch may be sent while the batches of other lanes are still
// running on the server: N target backends work side by side. What keeps it the sequential
// apply's result:
//  - Commits stay in source order. Lanes in flight form a queue in the order they were sent;
//    a lane's results are read and its transaction committed (with its checkpoint) only after
//    every lane sent before it has committed. So the checkpoint row only ever moves to the end of
//    a batch all of whose predecessors are committed: a kill at any moment leaves a prefix of
//    the stream committed, exactly as with one session, and the restart re-applies the rest.
//  - A batch runs beside the batches in flight only if it is independent of each of them
//    (WriteKeys: no row written by both, no parent deleted or possibly created by one that the
//    other references, no partial-target owner touched by both, no truncate); otherwise the
//    lanes it depends on are finished and committed first. A child therefore never commits
//    before its parent, and two sessions never write the same row (whose lock waits could run
//    against the fixed commit order).
//  - Everything the batch's parking decisions read (ParkingApplier start(): parked entries, the
//    parent gate) sees the committed target plus nothing it depends on from the lanes in
//    flight. The parking state that describes the target (rows known to exist, whether anything
//    is parked) is shared by the lanes (ParkingShared). While anything is parked, or a batch is
//    a chunk of an unfinished source transaction, or ChangeParker needs the target, batches go
//    one at a time (every lane finished first): parked rows are retried by whichever batch
//    brings their parent, which only the sequential order gets right.
//  - A statement that fails in a later lane because an earlier lane had not committed yet (a
//    dependency the keys do not show, e.g. an old foreign-key value) is sent again row by row
//    when its results are read, which is after the earlier lanes committed (TargetWriter's
//    isolation pass). A lock wait between sessions that pgmorph cannot see coming would hang
//    against the commit order: every session runs with lock_timeout (apply.lock_timeout_ms);
//    when it runs out, the whole open work is rolled back (a transient error: the stream starts
//    again from the checkpoint) and batches go one at a time until the checkpoint passes what
//    had been received (ApplyStats::serialUntil).
//  Memory: per lane, one batch in flight; plus the one filling.
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
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/follow/ApplyStats.h"
#include "app/follow/DriftGuard.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/model/Change.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"
#include "sink/ChangeParker.h"
#include "sink/ParkingApplier.h"
#include "sink/ParkingShared.h"
#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "state/ParkedStore.h"
#include "state/UnmappedStore.h"
#include "transform/BatchOrderer.h"
#include "transform/Transformer.h"
#include "transform/WriteKeys.h"

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
  bool hasPendingCommits() const;
  // Source commits buffered that no batch sent yet carries.
  bool hasUnsentCommits() const { return pendingCommits_ > 0; }
  // The target session of the oldest batch in flight (the next to finish), -1 when none: its
  // socket turns readable when the target answers (the results come at the pipeline's end).
  int inFlightSocket() const;
  // That batch's first results are already here (read without waiting): finishing it would
  // hardly wait.
  bool inFlightAnswered() const;
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
  // One target session: its connection (lane 0: the caller's writer's), writer, orderer and
  // parking applier, and the target transaction it has open.
  struct Lane {
    std::unique_ptr<PgConnection> conn;  // lanes > 0
    std::unique_ptr<TargetWriter> ownWriter;
    std::unique_ptr<BatchOrderer> ownOrderer;
    std::unique_ptr<ParkingApplier> ownParking;
    TargetWriter* writer = nullptr;
    ParkingApplier* parking = nullptr;
    WriteBatch inflight;            // sent, results not read yet (parking->inFlight())
    std::optional<Carried> commit;  // the commit that follows inflight
    bool open = false;              // a target transaction is open (the lane is in queue_)
    WriteKeys keys;                 // what the open transaction writes and references
  };
  void openLanes();
  void beginTargetIfNeeded();
  void markPendingOpen();  // the pending commit starts counting towards the batch limits
  // Sends batch_ (on the lane of the open target transaction, or a lane chosen for it); true
  // when a lane committed on the way.
  bool sendBuffered();
  // Picks the lane for a batch that starts a target transaction (fill_), finishing what it must
  // wait for first; true when a lane committed on the way.
  bool chooseLane();
  bool parallelAllowed() const;
  // Reads the results of the lanes queued before and including `last` (all when nullptr), in
  // send order, committing those whose commit follows; true when one committed.
  bool finishThrough(const Lane* last);
  bool finishInFlight() { return finishThrough(nullptr); }
  void applyBuffered();  // sendBuffered + finishInFlight: nothing left in flight
  Carried takePending();
  void commitCarried(Lane& lane, Carried& c);
  // A lock wait between sessions ran out (or a deadlock): remembered so that the retry goes one
  // session at a time past what was received (see "Sessions" above).
  void noteSessionsWait(const PgError& e);
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
  std::shared_ptr<ParkingShared> parkingShared_;  // the target's parking state, for every lane
  ParkingApplier parking_;  // lane 0's, over catalog_, orderer_ and parked_: declared after them
  ChangeParker changes_;    // over parked_
  DriftGuard drift_;        // schema drift of the mapped source tables
  WriteBatch batch_;        // being transformed
  std::vector<std::unique_ptr<Lane>> lanes_;  // lanes_[0] is writer_'s session
  std::deque<Lane*> queue_;  // lanes with an open target transaction, in the order sent
  Lane* fill_ = nullptr;     // the lane of the pending bookkeeping's target transaction
  WriteKeys keys_;           // scratch: the keys of the batch being placed
  std::vector<std::pair<Uuid, const WritePlan*>> unknown_;  // scratch of chooseLane()
  bool serialOnly_ = false;                  // ChangeParker's prepare(): the next batch goes alone
  Lsn lastEnd_;                              // end LSN of the last source commit received
  const TableMapping* lastTable_ = nullptr;  // mappingOf()'s last answer

  Lsn checkpoint_;  // committed on the target
  bool inSource_ = false;
  bool skipping_ = false;  // current source transaction is at or below the checkpoint
  TransactionInfo current_;
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
