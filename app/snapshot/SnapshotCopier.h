// SnapshotCopier: the data plane of one snapshot attempt. Runs the plan's groups on a pool
// of `jobs` workers (SnapshotWorker, each one source session importing the same exported
// snapshot and one target session, kept for the whole attempt), starting each group as
// soon as every group it comes after is done, and shows progress (SnapshotProgress).
//
// Units: a cycle group, the partial tasks of one target table, or an upsert task — split
// into key ranges when its source table has more than `splitRows` rows by pg_class.reltuples
// and a single integer key (not for tables in a cycle or referencing themselves, whose
// rows must land in one transaction). Tasks already done are skipped; each task is marked
// copying (with its number of ranges) before its units start. Only this object's thread
// touches the control and probe sessions; workers get units through a queue.
//
// Bulk load: a table whose indexes are suspended (SuspendedDdlStore) gets a rebuild unit as
// soon as every upsert group loading it is done — queued ahead of the copies, since groups
// that come after (its children, its partial targets) start only once it is rebuilt: their
// parent checks and updates find rows by the table's keys. Rebuilds of independent tables
// run in parallel on the workers like any unit.
//
// The first error of any worker cancels the others (between rows) and is rethrown once all
// have stopped; a stop request does the same and returns Interrupted.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "app/StopFlag.h"
#include "app/snapshot/SnapshotOptions.h"
#include "app/snapshot/SnapshotPlan.h"
#include "app/snapshot/SnapshotRunner.h"
#include "app/snapshot/SnapshotWorker.h"
#include "cdc/SnapshotReader.h"
#include "sink/TargetCatalog.h"
#include "state/SnapshotStore.h"
#include "state/SuspendedDdlStore.h"

namespace pgmorph {

class SnapshotCopier {
 public:
  SnapshotCopier(const PipelineConfig& config, const SnapshotOptions& options,
                 const SnapshotPlan& plan, const TargetCatalog& catalog, const SnapshotStore& store,
                 const SuspendedDdlStore& ddl, StopFlag& stop, std::function<void()> poll);

  // `control`: the orchestrator's target session (autocommit); `probe`: a session inside
  // the imported snapshot (catalog and key bounds are read there).
  SnapshotEnd run(PgConnection& control, const SnapshotRecord& rec, SnapshotReader& probe);

 private:
  std::vector<SnapshotUnit> unitsOf(const SnapshotGroup& group, PgConnection& control,
                                    SnapshotReader& probe);
  std::vector<SnapshotUnit> ranges(std::size_t task, SnapshotReader& probe);

  const PipelineConfig& config_;
  SnapshotOptions options_;
  const SnapshotPlan& plan_;
  const TargetCatalog& catalog_;
  const SnapshotStore& store_;
  const SuspendedDdlStore& ddl_;
  StopFlag& stop_;
  std::function<void()> poll_;
  SnapshotShared shared_;
  std::vector<double> estimates_;  // per task: rows of its source table
  std::map<std::string, SnapshotTaskRow> states_;
};

}  // namespace pgmorph
