// RetryLoop, the one place where commands decide about errors: transient failures are retried
// with a doubling, capped, jittered pause that starts over after a healthy attempt; anything
// else ends the command with 2 at once; a stop request ends a pause at once.
#include "app/RetryLoop.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cdc/pg/PgError.h"

namespace pgmorph {
namespace {

using std::chrono::milliseconds;

PgError lostConnection() {
  return PgError("target: server closed the connection", "08006");
}

// Each pause is the current step plus a jitter of at most half of it.
void expectStep(milliseconds pause, milliseconds step) {
  EXPECT_GE(pause, step);
  EXPECT_LE(pause, step + step / 2);
}

TEST(RetryLoop, TransientFailuresAreRetriedWithADoublingCappedPause) {
  boost::asio::io_context io;
  StopFlag stop;
  RetryLoop loop(io, stop, "the test",
                 Backoff{milliseconds(2), milliseconds(8), std::chrono::hours(1)});
  int attempts = 0;
  auto status = loop.run([&] {
    if (++attempts <= 5) throw lostConnection();
    return 0;
  });
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(attempts, 6);
  ASSERT_EQ(loop.pauses().size(), 5u);
  expectStep(loop.pauses()[0], milliseconds(2));
  expectStep(loop.pauses()[1], milliseconds(4));
  expectStep(loop.pauses()[2], milliseconds(8));
  expectStep(loop.pauses()[3], milliseconds(8));  // capped
  expectStep(loop.pauses()[4], milliseconds(8));
}

TEST(RetryLoop, AnAttemptThatRanLongEnoughStartsTheBackoffOver) {
  boost::asio::io_context io;
  StopFlag stop;
  RetryLoop loop(io, stop, "the test",
                 Backoff{milliseconds(2), milliseconds(64), milliseconds(20)});
  int attempts = 0;
  loop.run([&] {
    ++attempts;
    if (attempts == 4) std::this_thread::sleep_for(milliseconds(40));  // a healthy session
    if (attempts <= 4) throw lostConnection();
    return 0;
  });
  ASSERT_EQ(loop.pauses().size(), 4u);
  expectStep(loop.pauses()[2], milliseconds(8));
  expectStep(loop.pauses()[3], milliseconds(2));  // back to the start
}

TEST(RetryLoop, AnErrorThatNeedsAnOperatorEndsTheCommandWithTwo) {
  boost::asio::io_context io;
  StopFlag stop;
  RetryLoop loop(io, stop, "the test", Backoff{milliseconds(1), milliseconds(1), milliseconds(1)});
  int attempts = 0;
  auto status = loop.run([&]() -> int {
    ++attempts;
    throw PgError("permission denied for table orders", "42501");
  });
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 2);
  EXPECT_EQ(attempts, 1);
  // So does an exception that is not pgmorph's own (a bug, not a database restarting).
  attempts = 0;
  status = loop.run([&]() -> int {
    ++attempts;
    throw std::logic_error("unexpected");
  });
  EXPECT_EQ(status, 2);
  EXPECT_EQ(attempts, 1);
  EXPECT_TRUE(loop.pauses().empty());
}

TEST(RetryLoop, AStopRequestEndsThePauseAtOnce) {
  boost::asio::io_context io;
  StopFlag stop;
  RetryLoop loop(io, stop, "the test",
                 Backoff{std::chrono::hours(1), std::chrono::hours(1), std::chrono::hours(1)});
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(100));
    stop.request();
  });
  auto started = std::chrono::steady_clock::now();
  auto status = loop.run([&]() -> int { throw lostConnection(); });
  stopper.join();
  EXPECT_FALSE(status);  // stopped, not finished: the caller says where
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

// Captures what is logged at info and above while it lives (the default level of the command).
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("[%l] %v");
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }
  int count(std::string_view what) const {
    std::string s = out_.str();
    int n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(RetryLoop, AnOutageIsLoggedOnceWhenLostAndOnceWhenBackWithItsDuration) {
  boost::asio::io_context io;
  StopFlag stop;
  RetryLoop loop(io, stop, "the stream",
                 Backoff{milliseconds(2), milliseconds(4), std::chrono::hours(1)});
  LogCapture log;
  int attempts = 0;
  auto status = loop.run([&] {
    ++attempts;
    if (attempts <= 4)
      throw PgError("target database: server closed the connection", "08006", "target");
    loop.recovered();  // connected again
    loop.recovered();  // a second call ends nothing
    return 0;
  });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(log.count("[warning] target lost: target database: server closed the connection; "
                      "retrying the stream with backoff"),
            1)
      << log.text();
  EXPECT_EQ(log.count("lost"), 1) << log.text();
  EXPECT_EQ(log.count("[info] target back after "), 1) << log.text();
  EXPECT_EQ(log.count("(5 attempts)"), 1) << log.text();
  EXPECT_EQ(log.count("retrying the stream in"), 0)
      << "retries are logged at debug: " << log.text();
}

TEST(RetryLoop, ANewFailureAfterRecoveryIsANewOutage) {
  boost::asio::io_context io;
  StopFlag stop;
  RetryLoop loop(io, stop, "the stream",
                 Backoff{milliseconds(1), milliseconds(1), std::chrono::hours(1)});
  LogCapture log;
  int attempts = 0;
  loop.run([&] {
    ++attempts;
    if (attempts > 1) loop.recovered();
    if (attempts <= 2) throw PgError("source database: gone", "57P01", "source");
    return 0;
  });
  EXPECT_EQ(log.count("source lost"), 2) << log.text();
  EXPECT_EQ(log.count("source back after"), 2) << log.text();
}

TEST(StopSignals, SigintAndSigtermRequestTheStop) {
  for (int signo : {SIGINT, SIGTERM}) {
    boost::asio::io_context io;
    StopFlag stop;
    StopSignals signals(io, stop, "stopping the test");
    std::raise(signo);
    for (int i = 0; i < 100 && !stop.requested(); ++i) io.run_one_for(milliseconds(10));
    EXPECT_TRUE(stop.requested()) << strsignal(signo);
  }
}

}  // namespace
}  // namespace pgmorph
