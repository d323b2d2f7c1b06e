// SnapshotLeftovers: what an interrupted or failed `pgmorph snapshot` (or `run`) leaves
// behind, and what the next run does with it — said at the end so the operator is never told
// "run it again to resume" when the rerun in fact starts over.
//
// Why a rerun after the process ended starts over: the copies read under a snapshot exported
// by this process's replication connection; it ends with the process and cannot be imported
// again. Tables already copied under it cannot be kept with a new snapshot: their rows are
// of another point in time than the new slot's consistent point, and the stream from the new
// point would not bring them to one state (changes between the two points are neither in them
// nor in the stream). So the next run drops and re-creates the slot, empties the mapped
// target tables and copies every table again. (Within one process, a transient failure does
// resume: the exporting connection stays open across RetryLoop's attempts.)
//
// read() is best effort (a failed run may have lost its connections): what cannot be read
// is left out. The messages are pure (tests).
#pragma once

#include <optional>
#include <string>

#include "cdc/model/Lsn.h"
#include "transform/Config.h"

namespace pgmorph {

struct SnapshotLeftovers {
  std::string pipeline, stateSchema, slot;
  bool snapshotInProgress = false;  // a snapshot record, not done
  int tasksDone = -1, tasksTotal = 0;
  bool slotExists = false;
  Lsn slotRestartLsn;         // WAL from here on is kept on the source for the slot
  std::size_t suspended = 0;  // indexes and foreign keys suspended, not restored yet

  static SnapshotLeftovers read(const PipelineConfig& config);

  // After a stop on request (SIGINT/SIGTERM).
  std::string stopMessage() const;
  // After a failure; "" when nothing is left behind.
  std::string failureMessage() const;
};

}  // namespace pgmorph
