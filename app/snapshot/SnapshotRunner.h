// SnapshotRunner: one attempt at the initial snapshot of a pipeline — the control plane of
// the copy. It decides from the target's state schema (SnapshotStore) what to do, owns the
// slot's exported snapshot (ExportedSnapshotSlot) for as long as readers may need to import
// it, and has SnapshotCopier copy the plan (SnapshotPlan) on `jobs` workers.
//
// Decisions on start:
//  - snapshot recorded done            -> nothing to do (AlreadyDone);
//  - none recorded, slot missing       -> record the intent, create the slot with an exported
//                                         snapshot, record it, copy everything;
//  - none recorded, slot exists        -> refuse (Operator) unless recreateSlot: the slot may
//                                         be someone else's, never guess;
//  - in progress, snapshot importable  -> resume: tasks done stay, tasks that were copying
//                                         are emptied and redone (never duplicated rows);
//  - in progress, snapshot gone        -> log it and start over cleanly: empty the mapped
//                                         target tables, drop and re-create the slot, copy
//                                         everything (never mix two points in time).
// When every task is done, ONE target transaction marks the snapshot done and sets the
// checkpoint to the slot's consistent point, where `follow` then starts (invariant 3).
//
// Bulk load (snapshot.defer_indexes, on by default): when the copy starts on empty (or
// emptied) tables, the transaction that records the intent also records and drops their
// indexes and foreign keys (IndexSuspender); SnapshotCopier rebuilds each table's indexes
// once its copy is complete, and the foreign keys are added back before the snapshot is
// marked done. A run that finds every table copied (the exporting process died during the
// rebuilds) only restores what is left and finishes: the rebuild needs no exported snapshot.
// With snapshot.index_foreign_keys the same transaction records, as suspended indexes, one
// index per target foreign key that no index leads with (sink/ForeignKeyIndexes): they are
// built after the copy like the others, and survive a crash the same way.
//
// Errors are thrown (PgmorphError classified); SnapshotCommand decides whether to retry. A
// retry on the same SnapshotRunner can still import the snapshot it holds, so workers that
// failed on a transient error resume their tables instead of starting over.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "app/StopFlag.h"
#include "app/snapshot/SnapshotOptions.h"
#include "cdc/ExportedSnapshotSlot.h"
#include "state/CheckpointStore.h"
#include "state/SnapshotStore.h"
#include "state/SuspendedDdlStore.h"
#include "transform/Config.h"

namespace pgmorph {

class SnapshotPlan;
class TargetCatalog;
class SnapshotReader;
class SlotManager;
struct SnapshotRecord;

enum class SnapshotEnd { Done, AlreadyDone, Interrupted };

class SnapshotRunner {
 public:
  // `poll` is called a few times per second while workers copy (the caller's signal
  // handling); a stop request on `stop` cancels the copy between rows.
  SnapshotRunner(const PipelineConfig& config, const SnapshotOptions& options, StopFlag& stop,
                 std::function<void()> poll);
  ~SnapshotRunner();

  SnapshotEnd run();

 private:
  SnapshotRecord startFresh(PgConnection& control, const SnapshotPlan& plan, SlotManager& slots);
  SnapshotRecord startOver(PgConnection& control, const SnapshotPlan& plan, SlotManager& slots,
                           const SnapshotRecord& old);
  SnapshotRecord createSlotAndRecord(PgConnection& control, const SnapshotPlan& plan);
  void recordIntent(PgConnection& control, const SnapshotPlan& plan, bool emptyTargets);
  void resetUnfinished(PgConnection& control, const SnapshotPlan& plan);
  void dropSlot(SlotManager& slots, const std::string& slot);
  std::unique_ptr<SnapshotReader> tryImport(const std::string& snapshotName);
  void finish(PgConnection& control, SlotManager& slots, const SnapshotRecord& rec);
  void suspendIndexes(PgConnection& control, const SnapshotPlan& plan);
  // Indexes of tables not rebuilt yet, then every foreign key.
  void restoreSuspended(PgConnection& control);
  // The late-reference sweep and restoreSuspended, timed for options_.observer.
  void restoreTimed(PgConnection& control, const SnapshotPlan& plan, const TargetCatalog& catalog);

  const PipelineConfig& config_;
  SnapshotOptions options_;
  StopFlag& stop_;
  std::function<void()> poll_;
  SnapshotStore store_;
  SuspendedDdlStore ddl_;
  CheckpointStore checkpoints_;
  // The exporting connection: kept open (idle) until the snapshot is done, across retries.
  std::optional<ExportedSnapshotSlot> held_;
};

}  // namespace pgmorph
