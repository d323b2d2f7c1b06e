// VerifyPause: the follower's side of the pause that `pgmorph verify` asks of a running
// follower (state/VerifyPauseStore.h has the protocol). It owns one extra target session that
// LISTENs on the pipeline's channel, so a follower costs nothing while no verify runs: no
// polling, one idle connection.
//
// The follower (on the same io_context, the same thread) asks it, between messages:
//  - wantsHold(): verify asked to hold — at the next source-transaction boundary commit and
//    call held(checkpoint), then stop consuming the stream;
//  - holding(): do not consume the stream (keep sending status updates: they keep the
//    walsender's timeout away);
//  - fence(): while advancing, apply only source transactions committing before it; at the
//    first one at or after it (or, idle, once the server has sent past it) commit and call
//    reachedFence(checkpoint).
// `wake` is called (posted) whenever the answer to those questions changed: on a request, on
// the release, and when a lease ran out (verify went away: it is logged, and following goes on).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "state/VerifyPauseStore.h"
#include "transform/Config.h"

namespace pgmorph {

class VerifyPause {
 public:
  VerifyPause(const PipelineConfig& config, boost::asio::io_context& io,
              std::function<void()> wake);
  ~VerifyPause();
  VerifyPause(const VerifyPause&) = delete;
  VerifyPause& operator=(const VerifyPause&) = delete;

  // Connects, creates the table if needed, LISTENs, and reads a request made before.
  void start();
  // Cancels the waits (the follower's quiesce); never throws.
  void stop() noexcept;

  bool wantsHold() const { return phase_ == Phase::HoldAsked; }
  bool holding() const { return phase_ == Phase::Holding || phase_ == Phase::AtFence; }
  std::optional<Lsn> fence() const {
    return phase_ == Phase::Advancing ? fence_ : std::optional<Lsn>();
  }
  void held(Lsn checkpoint);
  void reachedFence(Lsn checkpoint);

 private:
  enum class Phase { Idle, HoldAsked, Holding, Advancing, AtFence };
  void waitNotify();
  bool takeNotifies();
  void afterQuery();
  void armLease();
  void refresh();
  void resume(const char* why);

  const PipelineConfig& config_;
  boost::asio::io_context& io_;
  std::function<void()> wake_;
  VerifyPauseStore store_;
  std::unique_ptr<PgConnection> conn_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
  boost::asio::steady_timer lease_;
  Phase phase_ = Phase::Idle;
  std::optional<Lsn> fence_;
  int servingPid_ = 0;  // the verify whose request this pause answers
  std::chrono::steady_clock::time_point pausedAt_;
};

}  // namespace pgmorph
