// Behaviour of whole runs under interruptions that the README promises:
//  * SIGINT ends `pgmorph snapshot` in the middle of its copy, and `pgmorph run` in the middle
//    of following, with exit 0 (README "Exit codes"); the next run resumes to completion and
//    the target equals the projection of the source.
//  * Both databases restarted several times under a steady load, under one `pgmorph follow`
//    that nobody restarts: it heals by itself, never exits, and once caught up the target
//    equals the projection of the source, every change applied exactly once.
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/AuditLog.h"
#include "tests/e2e/ExactlyOnceCheck.h"
#include "tests/e2e/PgmorphProcessTest.h"
#include "tests/e2e/Poll.h"
#include "tests/e2e/SourceAudit.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

class StopAndRestartTest : public PgmorphProcessTest {
 protected:
  StopAndRestartTest() : PgmorphProcessTest("stop") {}

  // Snapshot tasks in `state` ('copying', 'done'; "" for all), 0 while the state table does
  // not exist.
  int snapshotTasks(const std::string& state) {
    try {
      PgConnection t = env().connectTarget();
      auto res = t.execParams(fmt::format("SELECT count(*) FROM {}.snapshot_tables"
                                          " WHERE pipeline = $1 AND ($2 = '' OR state = $2)",
                                          t.quoteIdent(env().stateSchema())),
                              {env().pipeline(), state});
      return std::stoi(std::string(res.value(0, 0)));
    } catch (const std::exception&) {
      return 0;
    }
  }

  void expectTargetEqualsProjection(std::size_t minRows) {
    ComparisonReport report = env().compareWithProjection();
    ASSERT_GE(report.expectedRows(), minRows) << report.str();
    EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                                << report.str();
  }
};

TEST_F(StopAndRestartTest, SigintEndsASnapshotMidCopyWithZeroAndTheNextRunFinishesIt) {
  env().loadSampleData(4);  // ~100,000 rows: the copy lasts long enough to be interrupted
  env().connectSource().exec("ANALYZE");
  ChildProcess& snapshot = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_TRUE(pollUntil(
      60s, [&] { return !snapshot.running() || snapshotTasks("copying") > 0; }, 10ms));
  ASSERT_TRUE(snapshot.running()) << "the snapshot ended before it could be interrupted:\n"
                                  << snapshot.stderrText();
  snapshot.signal(SIGINT);
  EXPECT_EQ(finish(snapshot, 60s), 0) << snapshot.stderrText();
  EXPECT_LT(snapshotTasks("done"), snapshotTasks(""))
      << "the copy was not interrupted: every task is done";
  // The stop says what the rerun really does (it starts over) and what is left meanwhile.
  std::string stopped = snapshot.stderrText();
  EXPECT_NE(stopped.find("snapshot stopped: "), std::string::npos) << stopped;
  EXPECT_NE(stopped.find("tables copied. The exported snapshot the copies read under ended with "
                         "this process, so the next `pgmorph snapshot` starts over"),
            std::string::npos)
      << stopped;
  EXPECT_NE(stopped.find("SELECT pg_drop_replication_slot('" + env().slot() + "')"),
            std::string::npos)
      << stopped;
  EXPECT_EQ(stopped.find("run it again to resume"), std::string::npos) << stopped;

  ChildProcess& run = startPgmorph("run", {"--until-caught-up", "--jobs", "2"});
  ASSERT_EQ(finish(run, 180s), 0) << run.stderrText();
  expectTargetEqualsProjection(100000);
}

TEST_F(StopAndRestartTest, SigintEndsARunMidFollowWithZeroAndTheNextRunCatchesUp) {
  env().loadSampleData();
  ChildProcess& run = startPgmorph("run", {"--jobs", "2"});
  env().waitForSlot(run, /*streaming=*/true, 120s);  // the snapshot is done: it follows now
  ChildProcess& writer = env().startWriter(8s, 300);
  std::this_thread::sleep_for(3s);  // mid-follow: the writer's changes stream in
  ASSERT_TRUE(run.running()) << run.stderrText();
  run.signal(SIGINT);
  EXPECT_EQ(finish(run, 60s), 0) << run.stderrText();
  env().finishWriter(writer);

  ChildProcess& again = startPgmorph("run", {"--until-caught-up"});
  ASSERT_EQ(finish(again, 180s), 0) << again.stderrText();
  EXPECT_NE(again.stderrText().find("already done"), std::string::npos) << again.stderrText();
  expectTargetEqualsProjection(25000);
}

// One follow, restarted by nobody: the target twice and the source twice (immediate mode, a
// crash), a few seconds apart, under a steady pgbench load that is started again after each
// source restart (its sessions die with the server, as an application's would reconnect).
TEST_F(StopAndRestartTest, BothDatabasesRestartedUnderLoadFollowHealsByItself) {
  {
    PgConnection target = env().connectTarget();
    AuditLog::install(target, {"system_messages"});
    PgConnection source = env().connectSource();
    SourceAudit::install(source, {"dispatch_notification"});
  }
  ChildProcess& follow = startPgmorph("follow");
  env().waitForSlot(follow, /*streaming=*/true);
  env().loadSampleData();

  ChildProcess* writer = &env().startWriter(60s, 200);
  auto restartSource = [&] {
    env().source().restart(/*immediate=*/true);
    // The writer's sessions died with the server: it ends with an error; a new one writes on.
    ASSERT_TRUE(writer->waitFor(30s)) << "pgbench kept running after its server restarted";
    writer = &env().startWriter(60s, 200);
  };
  std::this_thread::sleep_for(2s);
  env().target().restart(/*immediate=*/true);
  std::this_thread::sleep_for(3s);
  ASSERT_NO_FATAL_FAILURE(restartSource());
  std::this_thread::sleep_for(3s);
  env().target().restart(/*immediate=*/false);
  std::this_thread::sleep_for(3s);
  ASSERT_NO_FATAL_FAILURE(restartSource());
  std::this_thread::sleep_for(3s);
  writer->signal(SIGINT);  // stop the load: pgbench ends its transactions and exits
  ASSERT_TRUE(writer->waitFor(30s));

  env().flushSourceWal();
  Lsn goal = env().sourceWalLsn();
  bool caughtUp = pollUntil(120s, [&] {
    auto cp = env().checkpoint();
    return (cp && cp->lsn >= goal) || !follow.running();
  });
  ASSERT_TRUE(follow.running()) << "follow exited instead of healing:\n" << follow.stderrText();
  ASSERT_TRUE(caughtUp) << "follow did not catch up after the restarts";
  EXPECT_EQ(env().stopGracefully(follow), 0);
  std::string err = follow.stderrText();
  EXPECT_NE(err.find("source lost: "), std::string::npos) << err;
  EXPECT_NE(err.find("target lost: "), std::string::npos) << err;

  expectTargetEqualsProjection(25000);
  PgConnection source = env().connectSource();
  PgConnection target = env().connectTarget();
  ExactlyOnceReport once = checkExactlyOnce(source, target, env().idNamespace(),
                                            "dispatch_notification", "system_messages");
  EXPECT_TRUE(once.ok()) << "a change was applied more than once:\n" << once.str();
  EXPECT_GE(once.targetInserts, 1000) << once.str();
  std::cout << "[e2e] exactly-once on system_messages: " << once.str() << "\n";
}

}  // namespace
}  // namespace pgmorph::e2e
