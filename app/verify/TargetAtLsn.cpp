#include "app/verify/TargetAtLsn.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>

#include "app/follow/Follower.h"
#include "cdc/SlotManager.h"
#include "cdc/model/Errors.h"
#include "state/CheckpointStore.h"

namespace pgmorph {

TargetAtLsn::TargetAtLsn(const PipelineConfig& config, const StopFlag& stop)
    : config_(config), stop_(stop) {}

Lsn TargetAtLsn::applyUpTo(Lsn lsn) {
  boost::asio::io_context io;
  ApplyStats stats;
  Follower follower(config_, io, stop_, stats);
  FollowOptions options;
  options.fenceLsn = lsn;
  if (follower.run(options) != FollowEnd::ReachedTarget)
    throw PgmorphError(ErrorClass::Operator,
                       "verify was stopped while applying changes up to " + lsn.str());
  return stats.checkpoint;
}

PinnedTarget TargetAtLsn::pin(Lsn lsn, PgConnection& session) {
  PinnedTarget out;
  auto slot = SlotManager(config_.source.conninfo).inspect(config_.source.slot);
  if (slot && slot->active)
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("a follower is streaming slot \"{}\" (walsender pid {}): stop it while verify "
                    "runs, or verify against a stopped pipeline",
                    config_.source.slot, slot->activePid));
  auto exists =
      session.execParams("SELECT to_regclass(quote_ident($1) || '.checkpoint') IS NOT NULL",
                         {config_.target.stateSchema});
  std::optional<Checkpoint> stored;
  if (exists.value(0, 0) == "t")
    stored = CheckpointStore(config_.target.stateSchema, config_.pipeline).load(session);
  if (!stored)
    throw PgmorphError(ErrorClass::Operator,
                       "nothing has been applied to this target yet (no checkpoint in state "
                       "schema " +
                           config_.target.stateSchema +
                           "): run pgmorph snapshot or pgmorph run first");
  if (stored->lsn < lsn) {
    spdlog::info("verify: applying the source's changes from {} up to {}", stored->lsn.str(),
                 lsn.str());
    applyUpTo(lsn);
  }
  out.how = "applied by verify";
  session.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  // The first query takes the transaction's snapshot: from here on it sees the target at L.
  auto now = CheckpointStore(config_.target.stateSchema, config_.pipeline).load(session);
  out.checkpoint = now ? now->lsn : Lsn();
  return out;
}

}  // namespace pgmorph
