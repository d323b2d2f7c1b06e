// RetryLoop: the one place where a command's errors are caught and decided (follow, snapshot
// and run all go through it). An attempt that throws is classified (PgmorphError's class; any
// other exception needs an operator): a transient failure (a database restarting, a lost
// connection) is retried after a pause that doubles from `initial` up to `max`, plus a
// random jitter of up to half of it (so that several pgmorphs do not come back in step), and
// starts over from `initial` after an attempt that ran for `healthyAfter`; anything else is
// logged as the error it is and ends the command with exit code 2. The pause runs on the
// command's io_context, so a signal (StopSignals) ends it at once.
//
// An outage is logged twice, not once per retry: its first failure at warn ("target lost:
// <reason>; retrying the stream with backoff"), its end at info ("target back after 12.3 s
// (5 attempts)") when the command reports that it is working again (recovered()) or an
// attempt returns; the retries in between at debug.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "app/StopFlag.h"

namespace pgmorph {

struct Backoff {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30000};
  std::chrono::milliseconds healthyAfter{60000};
};

class RetryLoop {
 public:
  // `what` names the work in the retry message ("retrying the snapshot in 2.0 s").
  RetryLoop(boost::asio::io_context& io, StopFlag& stop, std::string what, Backoff backoff = {},
            std::uint32_t seed = std::random_device{}());

  // Runs `attempt` until it returns (its exit code is returned), it throws an error that
  // needs an operator (2), or a stop is requested (nullopt: the caller says where it stopped).
  std::optional<int> run(const std::function<int()>& attempt);

  // The command is working again (its connections are up): ends the outage in progress, if
  // any, with its "back after" line. Cheap; call it once per attempt.
  void recovered();

  // Pauses taken so far (for tests and the log).
  const std::vector<std::chrono::milliseconds>& pauses() const { return pauses_; }

 private:
  // Waits `pause` on the io_context, or less if a stop is requested.
  void wait(std::chrono::milliseconds pause);

  boost::asio::io_context& io_;
  StopFlag& stop_;
  std::string what_;
  Backoff backoff_;
  std::mt19937 rng_;
  std::vector<std::chrono::milliseconds> pauses_;
  // The outage in progress: when its first failure happened, what was lost ("target"), and
  // the attempts made since (the one that failed first included).
  std::optional<std::chrono::steady_clock::time_point> outageSince_;
  std::string outageOf_;
  int outageAttempts_ = 0;
};

// StopSignals: SIGINT and SIGTERM request `stop` (logging `message` with the signal's name),
// for as long as this object lives; handled whenever the io_context runs or is polled.
class StopSignals {
 public:
  StopSignals(boost::asio::io_context& io, StopFlag& stop, std::string message);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgmorph
