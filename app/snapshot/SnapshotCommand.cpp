#include "app/snapshot/SnapshotCommand.h"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <functional>
#include <random>
#include <thread>

#include "app/StopFlag.h"
#include "app/follow/PipelineRunner.h"
#include "app/snapshot/SnapshotRunner.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace asio = boost::asio;

SnapshotCommand::SnapshotCommand(const PipelineConfig& config) : config_(config) {}

int SnapshotCommand::snapshot(const SnapshotOptions& options) {
  StopFlag stop;
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void()> armSignals = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signo) {
      if (ec) return;
      spdlog::info("received {}, stopping the snapshot (copies in flight are abandoned)",
                   strsignal(signo));
      stop.request();
      armSignals();
    });
  };
  armSignals();
  auto poll = [&] { io.poll(); };

  SnapshotRunner runner(config_, options, stop, poll);
  std::mt19937 rng{std::random_device{}()};
  std::chrono::milliseconds backoff{500};
  const std::chrono::milliseconds maxBackoff{30000};
  while (!stop.requested()) {
    auto attemptStart = std::chrono::steady_clock::now();
    try {
      SnapshotEnd end = runner.run();
      return end == SnapshotEnd::Interrupted ? 1 : 0;
    } catch (const std::exception& e) {
      auto* p = dynamic_cast<const PgmorphError*>(&e);
      if (!p || p->errorClass() == ErrorClass::Operator) {
        spdlog::error("{}", e.what());
        return 2;
      }
      // An attempt that copied for a while was healthy: start the backoff over.
      if (std::chrono::steady_clock::now() - attemptStart > std::chrono::seconds(60))
        backoff = std::chrono::milliseconds(500);
      std::uniform_int_distribution<long> jitter(0, backoff.count() / 2);
      auto pause = backoff + std::chrono::milliseconds(jitter(rng));
      spdlog::warn("{} — retrying the snapshot in {:.1f} s", e.what(), pause.count() / 1000.0);
      auto until = std::chrono::steady_clock::now() + pause;
      while (std::chrono::steady_clock::now() < until && !stop.requested()) {
        io.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      backoff = std::min(backoff * 2, maxBackoff);
    }
  }
  spdlog::info("snapshot stopped; run it again to resume");
  return 1;
}

int SnapshotCommand::run(const SnapshotOptions& options, const FollowOptions& follow,
                         bool untilCaughtUp) {
  int status = snapshot(options);
  if (status != 0) return status;
  PipelineRunner runner(config_);
  return runner.follow(follow, untilCaughtUp);
}

}  // namespace pgmorph
