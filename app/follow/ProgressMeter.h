// ProgressMeter: turns ApplyStats into one log line per interval — what was applied, how
// fast, where the checkpoint is, and how far behind the source it is (bytes of WAL and the
// commit-to-apply delay of the last transaction). When nothing moves, lines come less often
// (ProgressCadence: due()).
#pragma once

#include <chrono>

#include "app/follow/ApplyStats.h"
#include "app/follow/ProgressCadence.h"

namespace pgmorph {

class ProgressMeter {
 public:
  explicit ProgressMeter(const ApplyStats& stats);
  // At each tick of the progress timer: whether a line is due (ProgressCadence). Says once,
  // the first time the pipeline goes quiet, that idle lines come less often.
  bool due();
  // `sourceCurrent` is the source's pg_current_wal_lsn().
  // Then one line of per-table counts (ApplyStats::tables), when there are any.
  void log(Lsn sourceCurrent);
  void logTables() const;

 private:
  const ApplyStats& stats_;
  std::chrono::steady_clock::time_point last_;
  std::uint64_t lastChanges_ = 0;
  ProgressCadence cadence_;
  std::uint64_t lastMoved_ = 0;  // the counters due() compares, summed
};

}  // namespace pgmorph
