// ParkingApplier: applies batches of TargetWrites so that one bad row never stops the stream
// (invariant 5) and foreign keys hold without stopping it (invariant 4). It sits between the
// transform (the caller's) and TargetWriter::applyOrdered, inside the caller's open target
// transaction, and owns the parking decisions of writes; the parked rows themselves live in
// ParkedStore (same transaction), the existence checks in ParentChecker, the changes the
// transform could not convert in ChangeParker (the caller's too).
//
// One apply() of a batch (writes in source order) does, in this order:
//  1. Parked entries of the rows the batch writes (one lookup): a later write of a parked row
//     is merged into it (the new values win, absent ones come from the parked write) and the
//     entry goes along with it; a later delete of the row, a release that stops naming it, or
//     a truncate removes the entry — a parked row never resurrects stale data. A reference
//     written as NULL (on_missing: null) is forgotten when a later write sets that column.
//  2. Missing parents, before writing: per (plan, row) the net effect of the batch's writes is
//     checked for every reference the target enforces (ParentChecker). A parent is there when
//     it is upserted earlier in the batch (and that upsert is not parked itself: chains are
//     followed to a fixpoint), or known to exist, or found by one statement per parent table;
//     deleted or truncated in the batch means missing. Per the column's on_missing: park the
//     row (with the missing parent), write NULL now and keep the reference to fill in, or
//     stop (PgmorphError naming row, column, parent and policy). A SetColumns needs its row.
//  3. The rest goes to BatchOrderer and TargetWriter::applyOrdered. A write the target refuses
//     anyway (CHECK, NOT NULL, unique, an FK nobody foresaw) is isolated by the writer (rolled
//     back to a savepoint, the rest re-applied) and parked with the database's message; a
//     foreign-key refusal of an on_missing: null column is retried once with NULL.
//  3b. Rows that name a parent the batch deleted, through a reference no target foreign key
//     covers, are NULLed or parked per their on_missing (OrphanSweeper), so that the target
//     never keeps a dangling reference the mapping forbids.
//  4. Rows that were waiting for a parent the batch upserted (parked, or a NULL reference to
//     fill in) are retried in the same transaction, parents first (BatchOrderer), and so are
//     rows waiting for those (chains), until nothing more arrives. A retried row that still
//     fails stays parked with attempts + 1 and the latest reason.
//
// Assumed parents: step 2's lookups are index probes that the target's foreign keys repeat
// when the rows are written. In a batch of start() — when nothing is parked on the target (no
// entries to merge, no retries to follow) and this session's foreign keys fire — a parent that
// neither the batch nor the cache settles is assumed present where the target would refuse the
// statement if it were not (ParentGate::check's `assume`), and the batch is sent tentatively.
// If the target refuses anything of it, the writer rolls it back to its savepoint untouched
// (TargetWriter::finishOrdered returns false) and finish() decides the same writes again on
// facts: lookups, parking, on_missing, the writer's isolation — exactly the batch as it would
// have gone without the assumption. Writes are only sent tentatively if the assumption left
// every group live, so nothing was parked, NULLed or moved in place before the redo. After a
// refused tentative batch the next ones are decided on facts (factsOnly_).
//
// Staging: the decisions of a tentative start() — grouping, the gate, the order — take as long
// as sending them, and the target would wait for them after each commit. prestage() makes
// them for the next batch while the target runs the one in flight, on its own groups, gate
// and orderer (two, used in turn: the staged order must not overwrite the one the writer may
// still resend rows from). It decides only what cannot depend on the batch in flight: every
// reference is settled by the batch's own writes or is one the target checks itself (the
// cache is not read — that batch may delete a row the cache holds — so a known parent counts
// as assumed), every group stays live, and nothing is NULLed. start() then sends it as is,
// if everything start() needs for a tentative batch still holds once the batch before has
// been read: nothing parked (a parked row or a withdrawn batch in between discards it), no
// batches decided on facts. If the target refuses it, it is withdrawn and decided on facts
// like any tentative batch.
//
// Where each step lives: WriteGroups (the round's writes per target row), ParkingApplierMerge.cpp
// (step 1), ParentGate (step 2 and on_missing), ParkingApplierSettle.cpp (refusals, what
// landed, step 3b), ParkingApplier.cpp (the rounds of steps 3-4, parked retry, the parked
// table and counts).
//
// Sessions: with parallel target sessions (`apply.sessions`) there is one applier per
// session, each over its own connection, TargetWriter and BatchOrderer, with its own per-call
// and per-round state; what describes the target itself — ParentChecker's cache of rows known
// to exist, whether anything is parked and which parent tables parked rows wait for — is one
// ParkingShared given to all of them, so that a row deleted or parked by one session is seen
// by the others. All of them are driven from one thread. An applier built with the first
// constructor has a ParkingShared of its own (one session).
//
// Memory: per batch only, plus ParentChecker's bounded cache and the names of the parent
// tables rows wait for. The writes given to apply() are modified in place (merged values,
// NULLed references, parked writes moved to the end).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sink/OrphanSweeper.h"
#include "sink/ParentChecker.h"
#include "sink/ParentGate.h"
#include "sink/ParkedWriteCodec.h"
#include "sink/ParkingShared.h"
#include "sink/TableCounts.h"
#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "sink/WriteGroups.h"
#include "state/ParkedStore.h"
#include "transform/BatchOrderer.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

class ParkingApplier {
 public:
  // Everything given must outlive the applier. Creates the parked table if missing and reads
  // what is parked already (outside any transaction: call before the first begin()).
  // `plans` are the transformer's (Transformer::plans()), which the writes point into.
  ParkingApplier(PgConnection& target, std::span<const WritePlan> plans, TargetWriter& writer,
                 const TargetCatalog& catalog, BatchOrderer& orderer, const ParkedStore& store,
                 TableCountsMap& counts);
  // One of several sessions of a pipeline: `shared` is the target's state common to all of
  // them (see above), built over the same `catalog` and `plans`.
  ParkingApplier(PgConnection& target, std::span<const WritePlan> plans, TargetWriter& writer,
                 const TargetCatalog& catalog, BatchOrderer& orderer, const ParkedStore& store,
                 TableCountsMap& counts, std::shared_ptr<ParkingShared> shared);

  // Applies one batch inside the writer's open transaction (see above). Throws what
  // applyOrdered throws, and PgmorphError (Operator) for an on_missing: fail reference.
  void apply(std::span<TargetWrite> writes);
  // apply() in two halves (TransactionApplier overlaps the next batch's transform with the
  // target's work): start() does steps 1-2 (parked entries, the parent gate, parking — each a
  // round trip whose answer depends on everything written before) and sends step 3's
  // statements without waiting; finish() reads their results and does the rest (refusals,
  // what landed, 3b, 4). `writes` must stay alive and untouched until finish() returns, and
  // between the two nothing else may use the target connection. After a throw from either,
  // the transaction is rolled back: call forget().
  void start(std::span<TargetWrite> writes);
  void finish();
  bool inFlight() const { return inFlight_; }
  // Makes the next start()'s decisions for `writes` now, while the target still runs the
  // batch in flight (see "Staging"). No statement, no effect on the batch in flight; the
  // next start() uses it if it is given the same writes, unchanged, and nothing the batch in
  // flight did makes it stale; any other start() discards it.
  void prestage(std::span<TargetWrite> writes);
  // Batches whose start() sent what prestage() had decided.
  std::uint64_t stagedBatches() const { return stagedBatches_; }

  // `pgmorph parked retry`: applies the given entries (every entry of the pipeline when `ids`
  // is empty) now, parents first, in the writer's open transaction, with the same rules.
  // Entries of kind Unconvertible (a source change) go to `retryChange`, which transforms the
  // change again, appends its writes and says whether it did (ChangeParker::retry).
  struct RetryReport {
    std::size_t tried = 0;        // entries taken
    std::size_t applied = 0;      // entries that landed (and were removed)
    std::size_t stillParked = 0;  // entries that failed again (attempts + 1)
    std::size_t moot = 0;         // entries removed because a later change made them moot
    // Of stillParked: sent and refused by the target (one server ERROR each, plus the
    // statement that found it), and those whose parent was found missing by the bulk check
    // before writing (never sent: no ERROR in the server's log).
    std::size_t refusedByTarget = 0;
    std::size_t parentStillMissing = 0;
  };
  using RetryChange = std::function<bool(const ParkedRow&, WriteBatch&)>;
  RetryReport retry(std::span<const std::int64_t> ids, const RetryChange& retryChange);

  // After a rollback: what the rolled-back transaction wrote is not on the target.
  void forget();

  const ParentChecker& checker() const { return shared_->checker; }
  // Whether something may be parked on the target, by any session (a superset).
  bool anyParked() const { return shared_->anyParked; }

 private:
  struct Refusal {
    RefusedRow row;
    TargetWrite write;
  };
  struct Counters {
    std::size_t landed = 0, reparked = 0, dropped = 0, refused = 0, gated = 0;
  };

  // Follow-up rounds and parked retry (ParkingApplier.cpp).
  void refresh();
  void startCall();
  // One pass of steps 1-4 over `writes`; `carried[i]` are parked entries write i stands for.
  // Appends the rows it upserted to arrivals_ and what needs another round to followups_.
  void round(std::span<TargetWrite> writes, std::vector<std::vector<ParkedRow>>& carried,
             bool lookupParked, bool allowFollowups);
  // round() in two halves: steps 1-2 and sending step 3; reading step 3, then 3b and 4.
  // `tentative`: step 2 may assume parents the target checks itself (see "Assumed parents").
  void roundStart(std::span<TargetWrite> writes, std::vector<std::vector<ParkedRow>>& carried,
                  bool lookupParked, bool tentative = false);
  // Step 2 of a tentative round: true when it assumed a parent and everything stays live, so
  // that the round's writes go out as they came (nothing parked, NULLed or moved); otherwise
  // the groups are decided again on facts and false is returned.
  bool gateTentatively(std::span<TargetWrite> writes);
  // Whether this session's target checks foreign keys (session_replication_role is not
  // replica): read once.
  bool foreignKeysFire();
  void roundFinish(std::span<TargetWrite> writes, std::vector<std::vector<ParkedRow>>& carried,
                   bool allowFollowups);
  // Retries of rows waiting for what arrived; false when there is nothing to retry.
  bool nextRound();
  void sendLive(std::span<TargetWrite> writes);
  // start()'s step 2-3 from prestage(): false (and nothing sent) when there is none for
  // `writes`.
  bool sendStaged(std::span<TargetWrite> writes);
  // The parked table and the counts (ParkingApplier.cpp).
  void parkGroup(WriteGroup& g, const TargetWrite& w, ParkKind kind, const RefusedRow* refusal);
  void parkNullReference(const WriteGroup& g, const WriteGroup::Nulled& n, const TargetWrite& w);
  void removeEntries(const std::vector<ParkedRow>& rows, bool landed);
  TableCounts& countsOf(const WritePlan& plan);
  // Step 1, merging with parked entries (ParkingApplierMerge.cpp).
  void takeParkedEntries(std::span<TargetWrite> writes);
  // Steps 3-4 after the writer: what was refused and what landed (ParkingApplierSettle.cpp).
  void settleRefusals(std::vector<std::vector<ParkedRow>>& carried, bool allowFollowups);
  void settleLanded(std::span<TargetWrite> writes, std::vector<std::vector<ParkedRow>>& carried);
  // Step 3b for the rows deleted in this round (gone_, emptied_).
  void sweepOrphans();

  PgConnection& target_;
  TargetWriter& writer_;
  const TargetCatalog& catalog_;
  BatchOrderer& orderer_;
  const ParkedStore& store_;
  TableCountsMap& counts_;
  ParkedWriteCodec codec_;
  // The checker, anyParked, waited, refreshed: common to the sessions of the pipeline.
  std::shared_ptr<ParkingShared> shared_;
  OrphanSweeper sweeper_;  // over shared_->checker: declared after it

  // Per apply()/retry() call.
  bool inFlight_ = false;                             // start() done, finish() not yet
  std::span<TargetWrite> startWrites_;                // start()'s writes
  std::vector<std::vector<ParkedRow>> startCarried_;  // and what they carry
  std::unordered_set<std::int64_t> handled_;          // entries taken once already
  std::unordered_map<int, std::vector<Uuid>> arrivals_;
  std::vector<TargetWrite> followups_;
  std::vector<std::vector<ParkedRow>> followupCarried_;
  std::vector<TargetWrite> next_;
  std::vector<std::vector<ParkedRow>> nextCarried_;
  Counters counters_;
  std::unordered_map<const WritePlan*, TableCounts*> planCounts_;

  // Per round.
  WriteGroups groups_;
  ParentGate gate_;                // over shared_->checker: declared after it
  std::vector<std::size_t> kept_;  // applied writes: their index before compaction
  bool sent_ = false;              // this round sent writes (the writer has them in flight)
  bool tentative_ = false;         // and they were sent tentatively
  std::optional<bool> keysFire_;   // foreignKeysFire(), once read
  // Batches still to decide on facts only, after a tentative one was refused: a stream with
  // orphans does not pay for a withdrawn pass in every batch.
  unsigned factsOnly_ = 0;
  std::vector<Refusal> refusals_;
  // Staging (see above): prestage()'s groups, gate and orderers, and what it decided.
  struct Staged {
    std::span<const TargetWrite> writes;
    WriteGroups groups;
    const OrderedBatch* ordered = nullptr;  // set: a staged batch is waiting for start()
    bool assumed = false;
  };
  Staged staged_;
  ParentGate stagingGate_;  // over shared_->checker: declared after it
  std::array<std::unique_ptr<BatchOrderer>, 2> stagingOrderers_;
  unsigned stagingSlot_ = 0;  // the orderer the next prestage() uses (not the one in flight)
  std::uint64_t stagedBatches_ = 0;
  // Parent rows deleted (per checker table) and tables truncated this round, for the sweep.
  std::unordered_map<int, std::vector<Uuid>> gone_;
  std::unordered_set<int> emptied_;
  Lsn goneLsn_;
};

}  // namespace pgmorph
