#include "app/verify/TargetAtLsn.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "app/follow/Follower.h"
#include "cdc/SlotManager.h"
#include "cdc/model/Errors.h"
#include "state/CheckpointStore.h"

namespace pgmorph {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TargetAtLsn::TargetAtLsn(const PipelineConfig& config, const StopFlag& stop)
    : config_(config), stop_(stop), store_(config.target.stateSchema, config.pipeline) {}

TargetAtLsn::~TargetAtLsn() {
  if (!control_) return;
  try {
    store_.release(*control_);
  } catch (const std::exception& e) {
    // Its lease ends the pause anyway.
    spdlog::warn(
        "verify could not release the follower it paused ({}); it resumes when the "
        "pause's lease runs out",
        e.what());
  }
}

void TargetAtLsn::prepare() {
  auto slot = SlotManager(config_.source.conninfo).inspect(config_.source.slot);
  if (!slot || !slot->active) return;
  followerPid_ = slot->activePid;
  control_ = std::make_unique<PgConnection>(config_.target.conninfo, "target (verify)");
  store_.ensureSchema(*control_);
  spdlog::info(
      "verify: a follower streams slot \"{}\" (walsender pid {}): asking it to hold at "
      "its next transaction boundary",
      config_.source.slot, followerPid_);
  store_.request(*control_, PauseState::Hold, std::nullopt, kLeaseSeconds);
  PauseRow row = awaitState(PauseState::Holding, "hold at a transaction boundary");
  heldSince_ = Clock::now();
  spdlog::info("verify: the follower holds at checkpoint {}", row.checkpoint.str());
}

PauseRow TargetAtLsn::awaitState(PauseState state, const std::string& what) {
  auto start = Clock::now();
  auto lastExtended = start;
  for (;;) {
    if (stop_.requested()) throw PgmorphError(ErrorClass::Operator, "verify interrupted");
    auto row = store_.read(*control_);
    if (!row)
      throw PgmorphError(ErrorClass::Operator,
                         "the pause request of this verify disappeared from the state schema "
                         "(another verify of the same pipeline?)");
    if (row->state == state) return *row;
    auto now = Clock::now();
    if (now - start > kAnswerTimeout)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("the follower streaming slot \"{}\" (walsender pid {}) did not {} within "
                      "{} s: is it a pgmorph older than this one, or stuck? Stop it and run "
                      "verify again (verify then applies up to its position itself)",
                      config_.source.slot, followerPid_, what, kAnswerTimeout.count()));
    // A follower far behind takes a while to reach the fence: keep the lease alive meanwhile.
    if (now - lastExtended > 5s) {
      store_.extend(*control_, kLeaseSeconds);
      lastExtended = now;
    }
    std::this_thread::sleep_for(2ms);
  }
}

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
  if (control_) {
    store_.request(*control_, PauseState::Advance, lsn, kLeaseSeconds);
    auto advancing = Clock::now();
    awaitState(PauseState::AtFence, "reach the source position " + lsn.str());
    auto atFence = Clock::now();
    session.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
    // The first query takes the transaction's snapshot: from here on it sees the target at L,
    // and the follower may go on.
    auto now = CheckpointStore(config_.target.stateSchema, config_.pipeline).load(session);
    store_.release(*control_);
    control_.reset();
    auto released = Clock::now();
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    out.checkpoint = now ? now->lsn : Lsn();
    out.how = "follower paused";
    out.pauseMillis = ms(released - heldSince_);
    spdlog::info(
        "verify: the follower held {:.0f} ms (until the slot existed {:.0f} ms, reaching "
        "{} {:.0f} ms, the target snapshot {:.0f} ms)",
        *out.pauseMillis, ms(advancing - heldSince_), lsn.str(), ms(atFence - advancing),
        ms(released - atFence));
    return out;
  }
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
