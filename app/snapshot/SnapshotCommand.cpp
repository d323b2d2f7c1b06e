#include "app/snapshot/SnapshotCommand.h"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include "app/RetryLoop.h"
#include "app/StopFlag.h"
#include "app/check/CheckCommand.h"
#include "app/follow/FollowCommand.h"
#include "app/metrics/PipelineMetrics.h"
#include "app/snapshot/SnapshotLeftovers.h"
#include "app/snapshot/SnapshotRunner.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace asio = boost::asio;

SnapshotCommand::SnapshotCommand(const PipelineConfig& config) : config_(config) {}

int SnapshotCommand::snapshot(const SnapshotOptions& options) {
  StopFlag stop;
  asio::io_context io;
  StopSignals signals(io, stop, "stopping the snapshot (copies in flight are abandoned)");
  auto poll = [&] { io.poll(); };

  if (config_.source.readsJournal() && config_.source.conninfo.empty()) {
    // Never connect with an empty conninfo: libpq would pick a local default server.
    spdlog::error(
        "pipeline '{}' reads the journal in {}, but a snapshot copies from the source: set "
        "source.conninfo in {} (the snapshot is pinned by a temporary slot there; following "
        "then continues from the journal)",
        config_.pipeline, config_.source.journal, config_.file);
    return 2;
  }
  if (options.metrics) options.metrics->health().starting("snapshot in progress");
  SnapshotRunner runner(config_, options, stop, poll);
  RetryLoop retry(io, stop, "the snapshot");
  bool checked = false;
  auto status = retry.run([&] {
    // Once per command, before anything is created (see FollowCommand).
    if (!checked) {
      CheckCommand::preflight(config_, CheckPurpose::Snapshot);
      checked = true;
    }
    if (runner.run() == SnapshotEnd::Interrupted) stopped_ = true;
    return 0;
  });
  if (status && !stopped_) {
    // What the failed run leaves behind (a slot that holds WAL, suspended indexes and foreign
    // keys) and what undoes it: read after the attempt, best effort.
    if (std::string left = SnapshotLeftovers::read(config_).failureMessage(); !left.empty())
      spdlog::error("{}", left);
    return *status;
  }
  // A requested stop (SIGINT/SIGTERM) that ended cleanly is a success, as for follow. The
  // message says what a rerun really does (SnapshotLeftovers: it starts over).
  stopped_ = true;
  spdlog::info("{}", SnapshotLeftovers::read(config_).stopMessage());
  return 0;
}

int SnapshotCommand::run(const SnapshotOptions& options, const FollowOptions& follow,
                         bool untilCaughtUp) {
  int status = snapshot(options);
  if (status != 0 || stopped_) return status;  // failed, or stopped on request: no follow
  FollowOptions followOptions = follow;
  followOptions.metrics = options.metrics;
  followOptions.checkFirst = false;  // checked before the snapshot
  FollowCommand runner(config_);
  return runner.follow(followOptions, untilCaughtUp);
}

}  // namespace pgmorph
