// SnapshotStore owns the snapshot's progress in the target's state schema: one row for the
// snapshot of a pipeline (slot, consistent point, exported snapshot name, in_progress/done)
// and one row per copy task (a target table, or a partial target fed by one source table)
// with its state (pending/copying/done), rows and seconds.
//
// Why on the target: a task's rows and its "done" commit in the same target transaction
// (addRange() runs inside the caller's copy transaction), so after any crash a task marked
// done is fully there and a task not marked done has no rows of that transaction. A task
// copied in several key ranges (separate transactions) is done when its last range
// commits; until then it is `copying` and may hold the rows of the ranges already
// committed — whoever resumes it must empty it first.
//
// Every method runs on the caller's connection and transaction; none commits by itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

enum class SnapshotStatus { InProgress, Done };
enum class SnapshotTaskState { Pending, Copying, Done };

struct SnapshotRecord {
  std::string slot;
  Lsn consistentPoint;       // where streaming starts once the snapshot is done
  std::string snapshotName;  // the exported snapshot the copies read under
  SnapshotStatus status = SnapshotStatus::InProgress;
};

// A task as the orchestrator plans it.
struct SnapshotTaskSpec {
  std::string task;         // unique per pipeline, e.g. "public.orders"
  std::string sourceTable;  // "schema.table"
  std::string targetTable;  // "schema.table"
};

struct SnapshotTaskRow {
  std::string task, sourceTable, targetTable;
  SnapshotTaskState state = SnapshotTaskState::Pending;
  std::int64_t rows = 0;
  double seconds = 0;
  int rangesTotal = 0;
  int rangesDone = 0;
};

std::string_view toString(SnapshotTaskState state);

class SnapshotStore {
 public:
  SnapshotStore(std::string stateSchema, std::string pipeline);

  // Creates the state schema and the two tables if missing (idempotent).
  void ensureSchema(PgConnection& target) const;

  std::optional<SnapshotRecord> load(PgConnection& target) const;
  // Records a new snapshot (in progress) with every task pending, replacing whatever an
  // earlier snapshot of this pipeline left.
  void start(PgConnection& target, const SnapshotRecord& record,
             const std::vector<SnapshotTaskSpec>& tasks) const;
  std::vector<SnapshotTaskRow> tasks(PgConnection& target) const;

  // The task starts (again) in `ranges` ranges: state copying, rows and ranges reset.
  void markCopying(PgConnection& target, const std::string& task, int ranges) const;
  // One range of the task has been copied (`rows` rows), in the caller's copy transaction.
  // The task becomes done with its last range. Returns true when it did.
  bool addRange(PgConnection& target, const std::string& task, std::int64_t rows) const;
  // Back to pending (its rows have been removed by the caller).
  void markPending(PgConnection& target, const std::string& task) const;
  // The snapshot is complete; run it in the transaction that also sets the checkpoint.
  void markDone(PgConnection& target) const;
  // Forgets the snapshot and its tasks (a fresh start).
  void clear(PgConnection& target) const;

  const std::string& stateSchema() const { return schema_; }
  const std::string& pipeline() const { return pipeline_; }

 private:
  std::string snapshotTable(PgConnection& target) const;
  std::string tasksTable(PgConnection& target) const;

  std::string schema_;
  std::string pipeline_;
};

}  // namespace pgmorph
