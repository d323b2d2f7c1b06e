// Follower: one `pgmorph follow` session from connect to disconnect. Owns the source
// replication stream, the target connection, and an Asio loop of its own that waits on the
// replication socket, runs the status-update and progress timers, and turns SIGINT/SIGTERM
// into a stop request — all on one thread. A fresh io_context per session means no handler
// of a failed session can outlive the objects it refers to.
//
// Before streaming it checks that the slot can still deliver what the checkpoint has not seen
// (a slot whose confirmed_flush_lsn is past the checkpoint has lost changes: stop and say so).
// The flush LSN it reports to the source is always the checkpoint committed on the target,
// never what was merely received (invariant 2).
//
// Errors are thrown, never swallowed; PipelineRunner decides whether to retry.
#pragma once

#include "cdc/pipeline/ApplyStats.h"
#include "cdc/pipeline/FollowOptions.h"
#include "cdc/pipeline/StopFlag.h"
#include "transform/Config.h"

namespace pgmorph {

class Follower {
 public:
  Follower(const PipelineConfig& config, StopFlag& stop, ApplyStats& stats);
  FollowEnd run(const FollowOptions& options);

 private:
  const PipelineConfig& config_;
  StopFlag& stop_;
  ApplyStats& stats_;
};

}  // namespace pgmorph
