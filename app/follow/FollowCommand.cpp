#include "app/follow/FollowCommand.h"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include "app/RetryLoop.h"
#include "app/check/CheckCommand.h"
#include "app/follow/Follower.h"
#include "app/journal/JournalFollower.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"
#include "state/journal/Journal.h"

namespace pgmorph {

namespace asio = boost::asio;

FollowCommand::FollowCommand(const PipelineConfig& config) : config_(config) {}

int FollowCommand::runReporting(const FollowOptions& options, const std::function<int()>& attempt) {
  PipelineMetrics* metrics = options.metrics;
  if (!metrics) return attempt();
  metrics->health().connecting();
  try {
    int status = attempt();
    metrics->registry().set("pgmorph_streaming", 0);
    metrics->health().starting("the stream has ended");
    return status;
  } catch (const std::exception& e) {
    // Health says what RetryLoop will decide: a transient failure is retried (a side is down),
    // anything else stops the command.
    metrics->registry().set("pgmorph_streaming", 0);
    auto* known = dynamic_cast<const PgmorphError*>(&e);
    if (known && known->errorClass() == ErrorClass::Transient) {
      auto* pg = dynamic_cast<const PgError*>(&e);
      std::string side = pg ? pg->side() : std::string();
      metrics->health().down(Health::describeFailure(side, e.what()));
      metrics->onReconnect(Health::sideLabel(side));
    } else {
      metrics->health().stopped(e.what());
    }
    throw;
  }
}

int FollowCommand::follow(FollowOptions options, bool untilCaughtUp) {
  // One io_context for the whole run: SIGINT/SIGTERM request the stop whether a session is
  // streaming (the follower checks the flag between messages and finishes its target
  // transaction) or the loop is pausing before a retry.
  asio::io_context io;
  StopSignals signals(io, stop_, "finishing the current target transaction");
  RetryLoop retry(io, stop_, "the stream");
  options.onStreaming = [&retry, caller = options.onStreaming] {
    retry.recovered();
    if (caller) caller();
  };
  bool checked = !options.checkFirst;
  auto status = retry.run([&] {
    return runReporting(options, [&] {
      // Once per command, before anything is created; a database that cannot be reached yet is
      // retried like any other transient failure, a problem found ends the command (2).
      if (!checked) {
        // A pipeline reading a journal has no slot of its own, and maybe no source connection:
        // the slot and source checks do not apply to it (`pgmorph check` runs them for the
        // pipeline file of `pgmorph journal`).
        if (!config_.source.readsJournal()) CheckCommand::preflight(config_, CheckPurpose::Follow);
        checked = true;
      }
      if (untilCaughtUp && !options.untilLsn && config_.source.readsJournal() &&
          config_.source.conninfo.empty()) {
        // Without the source's address, "caught up" is with what the journal holds now.
        options.untilLsn = JournalReader(config_.source.journal).end();
        spdlog::info("following until caught up with the journal's end at start, {}",
                     options.untilLsn->str());
      }
      if (untilCaughtUp && !options.untilLsn) {
        PgConnection source(config_.source.conninfo, "source");
        // The insert position, not the flush position: a transaction committed with
        // synchronous_commit = off before we started may still sit in the WAL buffers, above
        // pg_current_wal_lsn(), and "caught up" must include it.
        options.untilLsn =
            Lsn::parse(source.exec("SELECT pg_current_wal_insert_lsn()::text").value(0, 0));
        spdlog::info("following until caught up with the source's position at start, {}",
                     options.untilLsn->str());
      }
      FollowEnd end;
      if (config_.source.readsJournal()) {
        JournalFollower follower(config_, io, stop_, stats_);
        end = follower.run(options);
      } else {
        Follower follower(config_, io, stop_, stats_);
        end = follower.run(options);
      }
      if (end == FollowEnd::ReachedTarget)
        spdlog::info("caught up: checkpoint {} reached {}", stats_.checkpoint.str(),
                     options.untilLsn->str());
      else
        spdlog::info("stopped at checkpoint {}", stats_.checkpoint.str());
      return 0;
    });
  });
  // How much the sessions ran side by side (apply.sessions > 1), for the operator and the tests.
  if (config_.apply.sessions > 1)
    spdlog::info(
        "apply sessions: {} of {} batches ran beside another session's ({} waited for "
        "one they depend on; {} went alone: something parked, a chunk of a large source "
        "transaction, or after a lock wait)",
        stats_.batchesBeside, stats_.batchesStarted, stats_.batchesWaited, stats_.batchesAlone);
  // Batches decided while the target ran the one before (the rest waited for its answer
  // first: something parked, a withdrawn batch, a reference only a lookup settles).
  if (stats_.batchesSent > 0)
    spdlog::info("apply: {} of {} batches were decided while the target ran the one before",
                 stats_.batchesStaged, stats_.batchesSent);
  if (status) return *status;
  spdlog::info("stopped at checkpoint {}", stats_.checkpoint.str());
  return 0;
}

}  // namespace pgmorph
