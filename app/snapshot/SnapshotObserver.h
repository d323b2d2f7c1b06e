// SnapshotObserver: what a caller that times the snapshot (`pgmorph rehearse`) is told as it
// goes — the slot's creation, each copy task and index rebuild once the copy is over, and the
// bulk load's final restore (the indexes left and every foreign key validated). Called on the
// snapshot's orchestrating thread, never from a worker; the default does nothing. Times are
// wall-clock (system_clock) since they end up in a report a person reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "cdc/model/Lsn.h"

namespace pgmorph {

class SnapshotObserver {
 public:
  using Time = std::chrono::system_clock::time_point;

  struct Task {
    std::string id;           // the snapshot task ("public.orders <- public.orders #0")
    std::string sourceTable;  // "schema.table"; empty for an index rebuild
    std::string targetTable;  // "schema.table"
    bool rebuild = false;     // the bulk load's index build of targetTable, not a copy
    bool earlier = false;     // done by an earlier run (no times)
    bool inserts = true;      // its rows are new target rows (false: a partial target's updates)
    std::uint64_t rows = 0;   // target rows stored (inserted, or updated when !inserts)
    Time started, finished;
  };

  virtual ~SnapshotObserver() = default;
  // The slot was created with an exported snapshot at `consistentPoint`.
  virtual void slotCreated(Time, Time, Lsn /*consistentPoint*/) {}
  // Once every task of the copy is done, one call per task (copies and rebuilds).
  virtual void taskDone(const Task&) {}
  // The restore after the copy: indexes not rebuilt yet, then every foreign key added back.
  virtual void restored(Time, Time) {}
};

}  // namespace pgmorph
