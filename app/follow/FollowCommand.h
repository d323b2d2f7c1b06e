// FollowCommand: the `follow` command. Runs Follower sessions through RetryLoop (the one
// place that decides about errors: transient ones retried with backoff and jitter, the ones
// that need an operator end the command with 2) and owns the stop flag, which SIGINT and
// SIGTERM set (StopSignals), and the run's statistics across sessions. Before the first session
// it runs `pgmorph check`'s checks (CheckCommand::preflight) and refuses to start on an error.
#pragma once

#include "app/StopFlag.h"
#include "app/follow/ApplyStats.h"
#include "app/follow/FollowOptions.h"
#include "transform/Config.h"

namespace pgmorph {

class Follower;

class FollowCommand {
 public:
  explicit FollowCommand(const PipelineConfig& config);

  // Exit codes: 0 stopped by signal or reached the requested point; 2 needs an operator.
  // `untilCaughtUp` fixes the goal once, at start: the source's WAL position right now.
  int follow(FollowOptions options, bool untilCaughtUp);

 private:
  // One session, reported to options.metrics (health, reconnects) when it is set.
  FollowEnd runReporting(Follower& follower, const FollowOptions& options);

  const PipelineConfig& config_;
  StopFlag stop_;
  ApplyStats stats_;
};

}  // namespace pgmorph
