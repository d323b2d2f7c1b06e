// Follower: one `pgmorph follow` session from connect to disconnect. Owns the source
// replication stream and the target connection; on the runner's io_context (the same one
// whose signal_set turns SIGINT/SIGTERM into the stop request) it waits on the replication
// socket and runs the status-update, progress, stop-check and heartbeat timers, all on one
// thread. The heartbeat (Heartbeat, slot.heartbeat_interval_ms) and the idle advance of the
// status timer keep the slot moving when the source writes nothing mapped; the progress timer
// watches slot.max_retained_wal.
// Before run() returns, every handler it queued has run or been cancelled, so none can
// outlive the session's objects.
//
// Before streaming it checks that the slot can still deliver what the checkpoint has not seen
// (a slot whose confirmed_flush_lsn is past the checkpoint has lost changes: stop and say so).
// The flush LSN it reports to the source is always the checkpoint committed on the target,
// never what was merely received (invariant 2).
//
// Errors are thrown, never swallowed; FollowCommand decides whether to retry.
#pragma once

#include <boost/asio/io_context.hpp>

#include "app/StopFlag.h"
#include "app/follow/ApplyStats.h"
#include "app/follow/FollowOptions.h"
#include "transform/Config.h"

namespace pgmorph {

class Follower {
 public:
  Follower(const PipelineConfig& config, boost::asio::io_context& io, const StopFlag& stop,
           ApplyStats& stats);
  FollowEnd run(const FollowOptions& options);

 private:
  const PipelineConfig& config_;
  boost::asio::io_context& io_;
  const StopFlag& stop_;
  ApplyStats& stats_;
};

}  // namespace pgmorph
