// Crash safety with parallel target sessions (apply.sessions: 3, small batches so that many
// batches commit from several sessions): while the OLTP writer runs at a steady rate, pgmorph
// `follow` is killed with SIGKILL at random moments 8-10 times and restarted; then the writer
// stops and pgmorph catches up. Batches that ran side by side commit in source order, so a
// kill may land with later batches done but not committed: afterwards the target must still
// equal the projection of the source, no change may have been applied twice (audit triggers
// on both sides), and the checkpoint must never have moved backwards. And the sessions must
// really have run side by side: pgmorph logs at a normal exit
// `apply sessions: <P> of <B> batches ran beside another session's`, and the catch-up run
// (a backlog of small batches) must report P > 0 — or this test proved nothing about them.
//
// The kill moments come from a seeded RNG; the seed is printed, and PGMORPH_TEST_SEED=<seed>
// replays the same moments (not the writer's operations: pgbench draws its own).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/AuditLog.h"
#include "tests/e2e/CheckpointHistory.h"
#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/ExactlyOnceCheck.h"
#include "tests/e2e/FollowSupervisor.h"
#include "tests/e2e/SourceAudit.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

// A steady load: every kill lands while pgmorph applies current transactions.
constexpr int kWriterRate = 600;
// Long enough to outlast the kills (at most 10 x 1.6 s) by several seconds: what the writer
// commits after the graceful stop is the backlog the catch-up run applies from its sessions.
constexpr std::chrono::seconds kWriterDuration = 22s;

// What the `apply sessions: P of B ...` lines of one pgmorph run's stderr say.
struct SessionsLines {
  int lines = 0;
  long long beside = 0;   // P, summed over the lines
  long long batches = 0;  // B
  std::string str() const {
    return lines == 0
               ? std::string("no 'apply sessions:' line")
               : fmt::format("{} of {} batches ran beside another session's", beside, batches);
  }
};

SessionsLines sessionsLines(const std::string& stderrText) {
  static const std::regex line(
      R"(apply sessions: (\d+) of (\d+) batches ran beside another session's)");
  SessionsLines out;
  for (std::sregex_iterator m(stderrText.begin(), stderrText.end(), line), end; m != end; ++m) {
    ++out.lines;
    out.beside += std::stoll((*m)[1]);
    out.batches += std::stoll((*m)[2]);
  }
  return out;
}

std::uint32_t testSeed() {
  if (const char* s = std::getenv("PGMORPH_TEST_SEED"))
    return static_cast<std::uint32_t>(std::stoul(s));
  return std::random_device{}();
}

class SessionsCrashTest : public DispatchE2eTest {
 protected:
  std::vector<MappingEdit> mappingEdits() const override {
    return {{"tables:", "apply: { sessions: 3, batch_changes: 100, batch_ms: 50 }\ntables:"}};
  }
};

TEST_F(SessionsCrashTest, KillNineWithParallelSessionsNeitherLosesNorDoublesChanges) {
  const std::uint32_t seed = testSeed();
  std::cout << "[e2e] sessions crash test seed " << seed << " (PGMORPH_TEST_SEED=" << seed
            << " repeats the same kill moments)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);
  auto started = std::chrono::steady_clock::now();
  auto phase = [&](const std::string& what) {
    std::chrono::duration<double> t = std::chrono::steady_clock::now() - started;
    std::cout << fmt::format("[e2e] {:6.1f} s  {}\n", t.count(), what) << std::flush;
  };
  // A random moment is the point of this test: deliberate pauses, not waits for a condition.
  auto pauseMillis = [&](int lo, int hi) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution(lo, hi)(rng)));
  };

  {
    PgConnection target = env().connectTarget();
    AuditLog::install(target, {"system_messages"});
    PgConnection source = env().connectSource();
    SourceAudit::install(source, {"dispatch_notification"});
  }
  CheckpointHistory history;
  FollowSupervisor follow(env());
  env().waitForSlot(follow.current(), /*streaming=*/true);
  env().loadSampleData();
  phase("sample data loaded");

  // 1. kill -9 at random moments while the writer runs; restart each time.
  const int kills = std::uniform_int_distribution(8, 10)(rng);
  ChildProcess& writer = env().startWriter(kWriterDuration, kWriterRate);
  while (follow.kills() < kills) {
    pauseMillis(400, 1600);
    history.sample(env(), fmt::format("before kill {}", follow.kills() + 1));
    follow.kill9AndRestart();
  }
  pauseMillis(400, 1600);
  history.sample(env(), "after the kills");
  phase(fmt::format("{} kills done", follow.kills()));

  // 2. Stop (SIGINT) while the writer still runs, let it finish, catch up on the backlog.
  follow.restartIfExited("before the final stop");
  ASSERT_EQ(env().stopGracefully(follow.current()), 0) << "SIGINT must end follow cleanly";
  SessionsLines stopped = sessionsLines(follow.current().stderrText());
  history.sample(env(), "after the graceful stop");
  env().finishWriter(writer);
  phase("writer finished");
  auto beforeCatchUp = env().checkpoint();
  RunResult catchUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(catchUp.exitStatus, 0) << catchUp.stderrText;
  SessionsLines caughtUp = sessionsLines(catchUp.stderrText);
  history.sample(env(), "after catching up");
  auto afterCatchUp = env().checkpoint();
  phase("caught up");

  std::cout << fmt::format("[e2e] {} kill -9 of pgmorph\n", follow.kills());
  for (const auto& e : follow.exits()) std::cout << "[e2e] exit by itself: " << e << "\n";
  ASSERT_TRUE(beforeCatchUp && afterCatchUp);
  std::int64_t backlog = afterCatchUp->appliedTransactions - beforeCatchUp->appliedTransactions;
  std::cout << fmt::format(
      "[e2e] apply sessions: stopped follow: {}; catch-up ({} source transactions): {}\n",
      stopped.str(), backlog, caughtUp.str());
  RecordProperty("beside_other_sessions", std::to_string(stopped.beside + caughtUp.beside));

  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 25000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();

  PgConnection source = env().connectSource();
  PgConnection target = env().connectTarget();
  ExactlyOnceReport once = checkExactlyOnce(source, target, env().idNamespace(),
                                            "dispatch_notification", "system_messages");
  EXPECT_TRUE(once.ok()) << "a change was applied more than once:\n" << once.str();
  // The audit must have seen the whole stream, or the check above proves nothing.
  EXPECT_GE(once.targetInserts, 15000) << once.str();
  std::cout << "[e2e] exactly-once on system_messages: " << once.str() << "\n";

  EXPECT_GE(history.size(), static_cast<std::size_t>(kills));
  EXPECT_EQ(history.regressions(), "") << "the checkpoint moved backwards";

  // The catch-up run had a backlog of small batches: with three sessions, some of them must
  // have run beside another session's.
  EXPECT_GE(backlog, 500) << "the writer ended before the graceful stop: the catch-up run had "
                             "no backlog to apply side by side (kills took too long?)";
  EXPECT_GT(caughtUp.beside, 0)
      << "apply.sessions: 3, yet the catch-up run (" << backlog
      << " source transactions, batches of 100 changes) reports " << caughtUp.str()
      << ": batches did not run side by side, or pgmorph no longer logs `apply sessions: <P> of "
         "<B> batches ran beside another session's` at exit (PGMORPH_E2E_LOG_LEVEL must let "
         "info through; its stderr is in the diagnostics below)";
}

}  // namespace
}  // namespace pgmorph::e2e
