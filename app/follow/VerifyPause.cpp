#include "app/follow/VerifyPause.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/asio/post.hpp>

#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace asio = boost::asio;
using namespace std::chrono_literals;

VerifyPause::VerifyPause(const PipelineConfig& config, asio::io_context& io,
                         std::function<void()> wake)
    : config_(config),
      io_(io),
      wake_(std::move(wake)),
      store_(config.target.stateSchema, config.pipeline),
      lease_(io) {}

VerifyPause::~VerifyPause() {
  stop();
}

void VerifyPause::start() {
  conn_ = std::make_unique<PgConnection>(config_.target.conninfo, "target (verify pause)");
  store_.ensureSchema(*conn_);
  conn_->exec("LISTEN " + conn_->quoteIdent(store_.channel()));
  socket_ = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(conn_->socket()));
  refresh();
  waitNotify();
}

void VerifyPause::stop() noexcept {
  boost::system::error_code ignored;
  lease_.cancel();
  if (socket_) socket_->cancel(ignored);
}

bool VerifyPause::takeNotifies() {
  bool notified = false;
  while (PGnotify* n = PQnotifies(conn_->get())) {
    notified = true;
    PQfreemem(n);
  }
  return notified;
}

void VerifyPause::afterQuery() {
  // A NOTIFY that arrived while this session ran a statement of its own is read with that
  // statement's result and waits in libpq's queue: the socket never turns readable for it.
  if (takeNotifies()) asio::post(io_, [this] { refresh(); });
}

void VerifyPause::waitNotify() {
  socket_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](boost::system::error_code ec) {
                        if (ec) return;
                        if (!PQconsumeInput(conn_->get()))
                          conn_->throwConnectionError("waiting for verify's pause requests");
                        if (takeNotifies()) refresh();
                        waitNotify();
                      });
}

void VerifyPause::armLease() {
  // A verify that went away never releases: the lease (checked every second while engaged)
  // ends the pause instead.
  lease_.expires_after(1s);
  lease_.async_wait([this](boost::system::error_code ec) {
    if (ec || phase_ == Phase::Idle) return;
    refresh();
    if (phase_ != Phase::Idle) armLease();
  });
}

void VerifyPause::resume(const char* why) {
  bool wasHolding = phase_ != Phase::Idle;
  phase_ = Phase::Idle;
  fence_.reset();
  lease_.cancel();
  if (wasHolding) {
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - pausedAt_)
            .count();
    spdlog::info("verify pause over ({}): applying was held for {:.0f} ms", why, ms);
  }
  asio::post(io_, wake_);
}

void VerifyPause::refresh() {
  std::optional<PauseRow> row = store_.read(*conn_);
  afterQuery();
  if (!row) {
    if (phase_ != Phase::Idle) resume("released");
    return;
  }
  // Another verify's request: the one this follower held for has released it (its release was
  // not seen in time), so that pause is over before the new one begins.
  if (phase_ != Phase::Idle && row->requesterPid != servingPid_) resume("released");
  if (row->expired) {
    if (phase_ != Phase::Idle) {
      spdlog::warn(
          "verify (pid {}) asked this follower to pause and has not released it before "
          "its lease ran out: following goes on",
          row->requesterPid);
      resume("lease expired");
    }
    return;
  }
  if (row->state == PauseState::Hold && phase_ == Phase::Idle) {
    spdlog::info("verify (pid {}) asks to pause applying at the next transaction boundary",
                 row->requesterPid);
    phase_ = Phase::HoldAsked;
    servingPid_ = row->requesterPid;
    pausedAt_ = std::chrono::steady_clock::now();
    armLease();
    asio::post(io_, wake_);
  } else if (row->state == PauseState::Advance && phase_ == Phase::Holding && row->fence) {
    phase_ = Phase::Advancing;
    fence_ = row->fence;
    asio::post(io_, wake_);
  }
}

void VerifyPause::held(Lsn checkpoint) {
  if (phase_ != Phase::HoldAsked) return;
  phase_ = Phase::Holding;
  store_.answer(*conn_, PauseState::Hold, PauseState::Holding, checkpoint);
  afterQuery();
}

void VerifyPause::reachedFence(Lsn checkpoint) {
  if (phase_ != Phase::Advancing) return;
  phase_ = Phase::AtFence;
  store_.answer(*conn_, PauseState::Advance, PauseState::AtFence, checkpoint);
  afterQuery();
}

}  // namespace pgmorph
