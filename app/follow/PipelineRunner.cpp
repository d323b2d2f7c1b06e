#include "app/follow/PipelineRunner.h"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <csignal>
#include <cstring>
#include <functional>
#include <random>

#include "app/follow/Follower.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace asio = boost::asio;

PipelineRunner::PipelineRunner(const PipelineConfig& config) : config_(config) {}

namespace {
ErrorClass classOf(const std::exception& e) {
  if (auto* p = dynamic_cast<const PgmorphError*>(&e)) return p->errorClass();
  return ErrorClass::Operator;
}
}  // namespace

int PipelineRunner::follow(FollowOptions options, bool untilCaughtUp) {
  // One io_context for the whole run: its signal_set turns SIGINT/SIGTERM into the stop
  // request, whether a session is streaming (the follower checks the flag between messages
  // and finishes its target transaction) or the runner is pausing before a retry.
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void()> armSignals = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signo) {
      if (ec) return;
      spdlog::info("received {}, finishing the current target transaction", strsignal(signo));
      stop_.request();
      armSignals();
    });
  };
  armSignals();

  std::mt19937 rng{std::random_device{}()};
  std::chrono::milliseconds backoff{500};
  const std::chrono::milliseconds maxBackoff{30000};

  while (!stop_.requested()) {
    auto sessionStart = std::chrono::steady_clock::now();
    try {
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
      Follower follower(config_, io, stop_, stats_);
      FollowEnd end = follower.run(options);
      if (end == FollowEnd::ReachedTarget)
        spdlog::info("caught up: checkpoint {} reached {}", stats_.checkpoint.str(),
                     options.untilLsn->str());
      else
        spdlog::info("stopped at checkpoint {}", stats_.checkpoint.str());
      return 0;
    } catch (const std::exception& e) {
      if (classOf(e) == ErrorClass::Operator) {
        spdlog::error("{}", e.what());
        return 2;
      }
      // A session that streamed for a while was healthy: start the backoff over.
      if (std::chrono::steady_clock::now() - sessionStart > std::chrono::seconds(60))
        backoff = std::chrono::milliseconds(500);
      std::uniform_int_distribution<long> jitter(0, backoff.count() / 2);
      auto pause = backoff + std::chrono::milliseconds(jitter(rng));
      spdlog::warn("{} — retrying in {:.1f} s", e.what(), pause.count() / 1000.0);
      io.restart();
      asio::steady_timer timer(io, pause);
      bool woke = false;
      timer.async_wait([&](boost::system::error_code) { woke = true; });
      while (!woke && !stop_.requested()) io.run_one_for(std::chrono::milliseconds(100));
      timer.cancel();
      io.poll();
      backoff = std::min(backoff * 2, maxBackoff);
    }
  }
  spdlog::info("stopped at checkpoint {}", stats_.checkpoint.str());
  return 0;
}

}  // namespace pgmorph
