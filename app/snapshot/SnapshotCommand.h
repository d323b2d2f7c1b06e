// SnapshotCommand: `pgmorph snapshot` and `pgmorph run`. Like FollowCommand for `follow`, it
// runs its attempts through RetryLoop: transient errors (a database restarting, a connection
// lost, an exported snapshot gone) are retried with backoff and jitter — the next attempt
// resumes, or starts over when it must — and the ones that need an operator end it with 2. It turns
// SIGINT/SIGTERM into a stop request: workers abandon their open copies (nothing half-done commits)
// and the run ends. Before anything is created it runs `pgmorph check`'s checks
// (CheckCommand::preflight) and refuses to start on an error.
#pragma once

#include "app/follow/FollowOptions.h"
#include "app/snapshot/SnapshotOptions.h"
#include "transform/Config.h"

namespace pgmorph {

class SnapshotCommand {
 public:
  explicit SnapshotCommand(const PipelineConfig& config);

  // Exit codes: 0 the snapshot is done (now or earlier), or stopped on request (SIGINT/SIGTERM;
  // the next run starts over, see SnapshotLeftovers), 2 needs an operator (and the log says
  // what the failed run left behind).
  int snapshot(const SnapshotOptions& options);
  // The snapshot when none is done yet, then follow (FollowCommand) from its consistent
  // point. Exit codes as snapshot(), then as FollowCommand::follow.
  int run(const SnapshotOptions& options, const FollowOptions& follow, bool untilCaughtUp);

 private:
  const PipelineConfig& config_;
  bool stopped_ = false;  // the snapshot ended on a stop request
};

}  // namespace pgmorph
