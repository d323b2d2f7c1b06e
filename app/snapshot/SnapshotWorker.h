// SnapshotWorker: one copy worker of the snapshot — one source session that imported the
// exported snapshot (SnapshotReader), one target session, and one Transformer (the same
// transform code as streaming). It copies units handed to it by the orchestrator:
//   * upsert task (or one key range of it): COPY out of the source, transform each row,
//     COPY into the target (ParkingCopy over CopyWriter: what cannot land is parked, as the
//     stream would park it), record the part done (SnapshotStore::addRange) in the SAME
//     target transaction, commit;
//   * cycle group: the tasks one after the other in ONE target transaction with
//     SET CONSTRAINTS ALL DEFERRED;
//   * partial tasks: each in its own transaction, through CopyUpdateWriter.
// The target session runs with session_replication_role = replica when the role may set it
// (no row-by-row foreign-key triggers, and no ordinary user triggers, as in PostgreSQL's own
// replication apply): every foreign key of a completed table is then checked in bulk
// (CopyKeyCheck) in the transaction that records it done.
//
// On any error (or when `cancel` is set, checked between rows) the unit's target
// transaction is abandoned by closing both sessions — nothing of it commits — and the
// error is thrown; the next unit opens fresh sessions (importing the snapshot again).
// Not thread-safe: one worker per thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/snapshot/SnapshotPlan.h"
#include "app/snapshot/SnapshotProgress.h"
#include "cdc/SnapshotReader.h"
#include "cdc/pg/PgConnection.h"
#include "sink/CommittedRows.h"
#include "sink/ParentChecker.h"
#include "sink/TargetCatalog.h"
#include "state/ParkedStore.h"
#include "state/SnapshotStore.h"
#include "state/SuspendedDdlStore.h"
#include "transform/Config.h"
#include "transform/Transformer.h"

namespace pgmorph {

struct SnapshotUnit {
  std::vector<std::size_t> tasks;  // into SnapshotPlan::tasks()
  bool oneTransaction = false;     // a cycle: one transaction, constraints deferred
  std::size_t group = 0;           // SnapshotPlan::groups() index
  // A key range of a single upsert task ([from, to), open ends when unset).
  std::string rangeColumn;
  std::optional<std::int64_t> from, to;
  // Set for a rebuild unit: the table ("schema.table") whose suspended indexes to build.
  std::string rebuildTable;
  SnapshotProgress::Task* rebuildProgress = nullptr;
};

// What every worker of a run shares (read-only while workers run, except the atomics).
struct SnapshotShared {
  const PipelineConfig* config = nullptr;
  const SnapshotPlan* plan = nullptr;
  const TargetCatalog* catalog = nullptr;
  const SnapshotStore* store = nullptr;
  const SuspendedDdlStore* ddl = nullptr;
  // Foreign keys dropped for the bulk load ("schema.table:constraint"): checked when they are
  // added back, not per copy.
  std::set<std::string> suspendedKeys;
  std::string snapshotName;
  std::vector<SnapshotRead> reads;                // per task: table and columns to read
  std::vector<SnapshotProgress::Task*> progress;  // per task
  std::atomic<bool>* cancel = nullptr;            // stop between rows (error elsewhere, signal)
  // Shared by the workers of this snapshot (not process-wide statics): the parked table is
  // created once, not concurrently; the role's missing right is told once.
  mutable std::mutex parkedSchema;
  mutable std::atomic<bool> toldNoReplicaRole{false};
  // Rows the workers' committed transactions put on the target (or found there): a worker
  // checks the parents of its rows here before asking the target (see CommittedRows).
  mutable CommittedRows committedRows;
};

// Thrown when a unit stops because `cancel` was set; not an error of its own.
class SnapshotCancelled : public std::runtime_error {
 public:
  SnapshotCancelled() : std::runtime_error("snapshot copy cancelled") {}
};

class SnapshotWorker {
 public:
  explicit SnapshotWorker(const SnapshotShared& shared);
  ~SnapshotWorker();

  void copy(const SnapshotUnit& unit);

 private:
  void connect();
  void disconnect() noexcept;
  const WritePlan& planOf(const SnapshotTask& task) const;
  std::uint64_t copyUpsert(std::size_t task, const SnapshotUnit& unit);
  std::uint64_t copyPartial(std::size_t task);
  // Bulk foreign-key check of the task's target table (when row triggers are off).
  void checkKeys(std::size_t task);
  // Reads the task's rows and hands each write of `plan` with op `op` to `sink`.
  // Copied in one COPY without parent checks (see copyUpsert).
  bool copiedWhole(const SnapshotTask& task, const SnapshotUnit& unit) const;
  // Non-deferrable keys inside a cycle must be suspended for the load; throws otherwise.
  void requireCycleLoadable(const SnapshotUnit& unit) const;
  // Plan column indexes of `task`'s references checked only after the whole snapshot.
  std::vector<std::size_t> lateColumns(const SnapshotTask& task, const WritePlan& plan) const;
  // The on_missing policies over the tables of `unit` copied whole, before its commit.
  void sweepUnit(const SnapshotUnit& unit);

  template <class Sink>
  void stream(std::size_t task, const SnapshotRead& read, const WritePlan& plan, WriteOp op,
              Sink& sink);

  const SnapshotShared& shared_;
  Transformer transformer_;
  std::unique_ptr<SnapshotReader> reader_;
  std::unique_ptr<PgConnection> target_;
  bool bulkKeyChecks_ = false;  // the target session runs as a replica: keys checked in bulk
  // Parking, as in the stream: upsert copies go through ParkingCopy (missing parents parked or
  // NULLed before the COPY, refused rows isolated and parked, unconvertible rows parked) —
  // except the tables of a cycle and self-referencing tables, copied whole (their parents may
  // come later in the same load) and then swept by OrphanSweeper before their commit, so that
  // on_missing means there what it means everywhere.
  ParkedStore parked_;
  std::unique_ptr<ParentChecker> checker_;
  Change change_;
  WriteBatch batch_;
};

}  // namespace pgmorph
