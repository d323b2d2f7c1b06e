#include "app/RetryLoop.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "cdc/model/Errors.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace asio = boost::asio;

namespace {

// libpq's messages span lines ("server closed the connection unexpectedly\n\tThis probably
// means..."): one log line each.
std::string oneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

RetryLoop::RetryLoop(asio::io_context& io, StopFlag& stop, std::string what, Backoff backoff,
                     std::uint32_t seed)
    : io_(io), stop_(stop), what_(std::move(what)), backoff_(backoff), rng_(seed) {}

std::optional<int> RetryLoop::run(const std::function<int()>& attempt) {
  std::chrono::milliseconds next = backoff_.initial;
  while (!stop_.requested()) {
    auto started = std::chrono::steady_clock::now();
    if (outageSince_) ++outageAttempts_;
    try {
      int status = attempt();
      recovered();
      return status;
    } catch (const std::exception& e) {
      auto* known = dynamic_cast<const PgmorphError*>(&e);
      if (!known || known->errorClass() != ErrorClass::Transient) {
        spdlog::error("{}", e.what());
        return 2;
      }
      // An attempt that ran for a while was healthy: the next failure is a new story.
      if (std::chrono::steady_clock::now() - started > backoff_.healthyAfter)
        next = backoff_.initial;
      std::uniform_int_distribution<long> jitter(0, next.count() / 2);
      auto pause = next + std::chrono::milliseconds(jitter(rng_));
      if (!outageSince_) {
        auto* pg = dynamic_cast<const PgError*>(&e);
        outageSince_ = std::chrono::steady_clock::now();
        outageOf_ = pg ? pg->side() : "";
        outageAttempts_ = 1;
        if (outageOf_.empty())
          spdlog::warn("{} failed: {}; retrying with backoff", what_, oneLine(e.what()));
        else
          spdlog::warn("{} lost: {}; retrying {} with backoff", outageOf_, oneLine(e.what()),
                       what_);
      }
      spdlog::debug("{} — retrying {} in {:.1f} s", oneLine(e.what()), what_,
                    pause.count() / 1000.0);
      pauses_.push_back(pause);
      wait(pause);
      next = std::min(next * 2, backoff_.max);
    }
  }
  return std::nullopt;
}

void RetryLoop::recovered() {
  if (!outageSince_) return;
  std::chrono::duration<double> lasted = std::chrono::steady_clock::now() - *outageSince_;
  spdlog::info("{} after {:.1f} s ({} attempt{})",
               outageOf_.empty() ? what_ + " running again" : outageOf_ + " back", lasted.count(),
               outageAttempts_, outageAttempts_ == 1 ? "" : "s");
  outageSince_.reset();
}

void RetryLoop::wait(std::chrono::milliseconds pause) {
  io_.restart();
  asio::steady_timer timer(io_, pause);
  bool woke = false;
  timer.async_wait([&](boost::system::error_code) { woke = true; });
  // In slices, so that a stop requested by a signal (handled on this io_context) or by
  // another thread ends the pause within one slice.
  while (!woke && !stop_.requested()) io_.run_one_for(std::chrono::milliseconds(100));
  timer.cancel();
  io_.poll();
}

struct StopSignals::Impl {
  Impl(asio::io_context& io, StopFlag& stop, std::string message)
      : signals(io, SIGINT, SIGTERM), stop(stop), message(std::move(message)) {
    arm();
  }
  void arm() {
    signals.async_wait([this](boost::system::error_code ec, int signo) {
      if (ec) return;
      spdlog::info("received {}, {}", strsignal(signo), message);
      stop.request();
      arm();
    });
  }
  asio::signal_set signals;
  StopFlag& stop;
  std::string message;
};

StopSignals::StopSignals(asio::io_context& io, StopFlag& stop, std::string message)
    : impl_(std::make_unique<Impl>(io, stop, std::move(message))) {}

StopSignals::~StopSignals() {
  boost::system::error_code ignored;
  impl_->signals.cancel(ignored);
}

}  // namespace pgmorph
