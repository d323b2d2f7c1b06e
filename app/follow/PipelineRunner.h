// PipelineRunner: the pipeline's edge. The one place that catches errors: it classifies
// them (ErrorClass), retries transient ones (a database restarting, a connection lost) with
// exponential backoff and jitter, and stops with a clear message on the ones that need an
// operator. Owns the stop flag and the signal handling between sessions.
#pragma once

#include "app/StopFlag.h"
#include "app/follow/ApplyStats.h"
#include "app/follow/FollowOptions.h"
#include "transform/Config.h"

namespace pgmorph {

class PipelineRunner {
 public:
  explicit PipelineRunner(const PipelineConfig& config);

  // Exit codes: 0 stopped by signal or reached the requested point; 2 needs an operator.
  // `untilCaughtUp` fixes the goal once, at start: the source's WAL position right now.
  int follow(FollowOptions options, bool untilCaughtUp);

 private:
  const PipelineConfig& config_;
  StopFlag stop_;
  ApplyStats stats_;
};

}  // namespace pgmorph
