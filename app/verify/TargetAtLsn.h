// TargetAtLsn: brings the target to exactly source position L and opens a REPEATABLE READ
// transaction on a target session that sees it there — the target half of verify's pin.
//
// "Exactly L": every source transaction that committed before L is applied, none after (the
// source snapshot of a slot created at L sees the same set). Two ways:
//  - no follower streams the pipeline's slot: pin() applies up to L itself (a Follower in this
//    process with FollowOptions::fenceLsn);
//  - a follower streams it: the pause hand-shake of state/VerifyPauseStore.h. prepare() asks it
//    to hold at its next transaction boundary BEFORE L exists (so it cannot run past L while
//    the slot is being created), pin() gives it L, waits until it holds there, takes the target
//    snapshot and releases it. The pause — from "holding" to the release — is measured.
//
// Contract: call prepare() before creating the source slot, then pin() once. pin() returns
// with `session` inside the open transaction; the caller ends it. Destroying this object
// releases a follower still held (verify failed half-way).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "app/StopFlag.h"
#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "state/VerifyPauseStore.h"
#include "transform/Config.h"

namespace pgmorph {

struct PinnedTarget {
  Lsn checkpoint;                     // the target's checkpoint as the transaction sees it
  std::string how;                    // "applied by verify" / "follower paused"
  std::optional<double> pauseMillis;  // how long the running follower held
};

class TargetAtLsn {
 public:
  TargetAtLsn(const PipelineConfig& config, const StopFlag& stop);
  ~TargetAtLsn();
  TargetAtLsn(const TargetAtLsn&) = delete;
  TargetAtLsn& operator=(const TargetAtLsn&) = delete;

  void prepare();
  PinnedTarget pin(Lsn lsn, PgConnection& session);

  // How long verify waits for each answer of a running follower.
  static constexpr std::chrono::seconds kAnswerTimeout{120};
  static constexpr int kLeaseSeconds = 30;

 private:
  Lsn applyUpTo(Lsn lsn);
  PauseRow awaitState(PauseState state, const std::string& what);

  const PipelineConfig& config_;
  const StopFlag& stop_;
  VerifyPauseStore store_;
  std::unique_ptr<PgConnection> control_;  // set while a follower is held
  int followerPid_ = 0;
  std::chrono::steady_clock::time_point heldSince_;
};

}  // namespace pgmorph
