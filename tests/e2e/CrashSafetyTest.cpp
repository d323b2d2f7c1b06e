// Crash safety: while the OLTP writer runs, pgmorph is killed with SIGKILL at random moments
// and restarted, the source cluster is restarted in immediate mode (a crash: the slot's
// position falls back to its last saved state and already applied transactions come again),
// and so is the target cluster, twice: under load, and just after pgmorph confirmed its latest
// commit (what the target loses in a crash must never have been confirmed to the source).
// Afterwards the target equals the projection of the source, no change was applied twice (audit
// triggers on both sides), and the checkpoint never moved backwards.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/AuditLog.h"
#include "tests/e2e/CheckpointHistory.h"
#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/ExactlyOnceCheck.h"
#include "tests/e2e/FollowSupervisor.h"
#include "tests/e2e/Poll.h"
#include "tests/e2e/SlowWalWriter.h"
#include "tests/e2e/SourceAudit.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

// A steady load rather than pgbench's fastest: every kill and restart then lands while
// pgmorph applies current transactions (not a backlog from long ago), and the test's runtime
// does not depend on how far behind pgmorph falls.
constexpr int kWriterRate = 400;

// After a crash of the target: what pgmorph confirmed to the source must still be on the
// target. The slot is read first: if pgmorph is right, what it confirmed is never above what
// the target durably committed, and the checkpoint only grows after this read.
void expectTargetKeptWhatWasConfirmed(const DispatchEnvironment& env, const char* when) {
  auto slot = env.slotState();
  auto cp = env.checkpoint();
  ASSERT_TRUE(slot && cp);
  EXPECT_FALSE(slot->confirmedFlush && *slot->confirmedFlush > cp->lsn)
      << "the target's crash (" << when
      << ") lost commits that pgmorph had already confirmed to the source (slot "
         "confirmed_flush_lsn "
      << slot->confirmedFlush->str() << " > checkpoint " << cp->lsn.str()
      << " after the restart). The test clusters run synchronous_commit=off: pgmorph must "
         "commit its target transactions with synchronous_commit=on, or confirm only what the "
         "target has flushed (invariant 2).";
}

// Commits one new office on the source; returns a position inside that transaction (its
// commit ends after it).
Lsn commitMarker(const DispatchEnvironment& env) {
  PgConnection source = env.connectSource();
  source.exec("BEGIN");
  source.exec("INSERT INTO dispatch_office (name, created_at) VALUES ('Marker', '2024-01-01')");
  Lsn inside = Lsn::parse(source.exec("SELECT pg_current_wal_insert_lsn()::text").value(0, 0));
  source.exec("COMMIT");
  return inside;
}

std::uint32_t testSeed() {
  if (const char* s = std::getenv("PGMORPH_E2E_SEED"))
    return static_cast<std::uint32_t>(std::stoul(s));
  return std::random_device{}();
}

TEST_F(DispatchE2eTest, KillNineAndDatabaseRestartsNeitherLoseNorDoubleChanges) {
  const std::uint32_t seed = testSeed();
  std::cout << "[e2e] crash test seed " << seed << " (PGMORPH_E2E_SEED=" << seed
            << " repeats the same moments)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);
  auto started = std::chrono::steady_clock::now();
  auto phase = [&](const char* what) {
    std::chrono::duration<double> t = std::chrono::steady_clock::now() - started;
    std::cout << fmt::format("[e2e] {:6.1f} s  {}\n", t.count(), what) << std::flush;
  };
  // A random moment is the point of this test, so these are deliberate pauses, not waits
  // for a condition.
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
  // 1. kill -9 at random moments (0.5-4 s apart) while the writer runs; restart each time.
  ChildProcess& writer1 = env().startWriter(20s, kWriterRate);
  while (follow.kills() < 5 || (writer1.running() && follow.kills() < 12)) {
    pauseMillis(500, 4000);
    history.sample(env(), fmt::format("before kill {}", follow.kills() + 1));
    follow.kill9AndRestart();
  }
  env().finishWriter(writer1);
  history.sample(env(), "after the kills");

  phase("kills done, writer finished");
  // 2. The source crashes under load (immediate shutdown) and comes back.
  ChildProcess& writer2 = env().startWriter(60s, kWriterRate);
  pauseMillis(1000, 3000);
  history.sample(env(), "before the source restart");
  env().source().restart(/*immediate=*/true);
  // The writer's connections died with the server: it ends with an error, by design.
  ASSERT_TRUE(writer2.waitFor(60s)) << "pgbench kept running after its server restarted";
  Lsn afterSourceRestart = env().sourceWalLsn();
  ChildProcess& writer3 = env().startWriter(8s, kWriterRate);
  std::string sourceOutcome =
      follow.awaitCheckpointPast(afterSourceRestart, "source restart", 120s);
  env().finishWriter(writer3);
  history.sample(env(), "after the source restart");

  phase("source restart survived");
  // 3. The target crashes under load and comes back.
  ChildProcess& writer4 = env().startWriter(10s, kWriterRate);
  pauseMillis(1000, 3000);
  history.sample(env(), "before the target restart");
  env().target().restart(/*immediate=*/true);
  expectTargetKeptWhatWasConfirmed(env(), "under load");
  Lsn afterTargetRestart = env().sourceWalLsn();
  std::string targetOutcome =
      follow.awaitCheckpointPast(afterTargetRestart, "target restart", 120s);
  env().finishWriter(writer4);
  history.sample(env(), "after the target restart");

  // 4. The target crashes just after pgmorph confirmed its latest commit to the source. The
  // target's WAL writer is slowed first: the last asynchronous commits stay in its WAL
  // buffers, and the crash loses them, so pgmorph must not have confirmed them (under load
  // above, that window is a few milliseconds; here it is seconds).
  {
    SlowWalWriter slowTarget(env().target(), "10s");
    Lsn insideMarker = commitMarker(env());
    bool confirmed = pollUntil(60s, [&] {
      follow.restartIfExited("before the idle target restart");
      auto cp = env().checkpoint();
      auto slot = env().slotState();
      return cp && cp->lsn > insideMarker && slot && slot->confirmedFlush &&
             *slot->confirmedFlush > insideMarker;
    });
    ASSERT_TRUE(confirmed) << "pgmorph did not apply and confirm a marker transaction";
    history.sample(env(), "before the idle target restart");
    env().target().restart(/*immediate=*/true);
    expectTargetKeptWhatWasConfirmed(env(), "right after pgmorph confirmed");
  }
  Lsn afterIdleRestart = env().sourceWalLsn();
  ChildProcess& writer5 = env().startWriter(5s, kWriterRate);
  std::string idleOutcome =
      follow.awaitCheckpointPast(afterIdleRestart, "idle target restart", 120s);
  env().finishWriter(writer5);
  history.sample(env(), "after the idle target restart");

  phase("target restart survived");
  // 4. Stop, catch up, compare.
  follow.restartIfExited("before the final stop");
  EXPECT_EQ(env().stopGracefully(follow.current()), 0) << "SIGINT must end follow cleanly";
  RunResult catchUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(catchUp.exitStatus, 0) << catchUp.stderrText;
  history.sample(env(), "after catching up");
  phase("caught up");

  std::cout << fmt::format("[e2e] {} kill -9 of pgmorph\n[e2e] {}\n[e2e] {}\n[e2e] {}\n",
                           follow.kills(), sourceOutcome, targetOutcome, idleOutcome);
  for (const auto& e : follow.exits()) std::cout << "[e2e] exit by itself: " << e << "\n";
  RecordProperty("source_restart", sourceOutcome);
  RecordProperty("target_restart", targetOutcome);
  RecordProperty("idle_target_restart", idleOutcome);

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

  EXPECT_GE(history.size(), 8u);
  EXPECT_EQ(history.regressions(), "") << "the checkpoint moved backwards";
}

}  // namespace
}  // namespace pgmorph::e2e
