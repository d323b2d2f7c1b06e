// FollowCommand: the `follow` command. Runs Follower sessions (JournalFollower for a pipeline
// whose source is a journal, without check's preflight: it has no slot) through RetryLoop (the one
// place that decides about errors: transient ones retried with backoff and jitter, the ones
// that need an operator end the command with 2) and owns the stop flag, which SIGINT and
// SIGTERM set (StopSignals), and the run's statistics across sessions. Before the first session
// it runs `pgmorph check`'s checks (CheckCommand::preflight) and refuses to start on an error.
#pragma once

#include <functional>

#include "app/StopFlag.h"
#include "app/follow/ApplyStats.h"
#include "app/follow/FollowOptions.h"
#include "transform/Config.h"

namespace pgmorph {

class FollowCommand {
 public:
  explicit FollowCommand(const PipelineConfig& config);

  // Exit codes: 0 stopped by signal or reached the requested point; 2 needs an operator.
  // `untilCaughtUp` fixes the goal once, at start: the source's WAL position right now.
  int follow(FollowOptions options, bool untilCaughtUp);
  // The run's counters once follow() has returned (pgmorph rehearse reports them).
  const ApplyStats& stats() const { return stats_; }

 private:
  // One attempt (preflight, session), reported to options.metrics (health, reconnects) when it
  // is set; its exceptions go on to RetryLoop.
  int runReporting(const FollowOptions& options, const std::function<int()>& attempt);

  const PipelineConfig& config_;
  StopFlag stop_;
  ApplyStats stats_;
};

}  // namespace pgmorph
