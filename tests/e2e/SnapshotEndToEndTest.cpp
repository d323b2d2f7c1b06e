// End to end: `pgmorph snapshot` / `pgmorph run` on the dispatch example (scale 4, about
// 100,000 rows) while the OLTP writer changes every table during the whole snapshot, then
// follow until caught up: the target equals the independent projection of the source, row
// for row, and no source change was applied twice at the seam between snapshot and stream.
// And the same result after pgmorph is killed (-9) twice at different moments of the
// snapshot: the exported snapshot dies with it, so the next run starts over cleanly.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "tests/e2e/AuditLog.h"
#include "tests/e2e/ExactlyOnceCheck.h"
#include "tests/e2e/PgmorphProcessTest.h"
#include "tests/e2e/Poll.h"
#include "tests/e2e/SourceAudit.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kScale = 4;  // sample-data.sql at scale 4: ~100,000 rows
// A steady OLTP load on every table (pgbench -R): enough to change many rows during each
// snapshot, light enough for two shared cores.
constexpr int kWriterTps = 200;

struct SnapshotProgressRow {
  std::string snapshotName;
  std::string status;
  int tasksDone = 0;
  int tasks = 0;
};

class SnapshotE2eTest : public PgmorphProcessTest {
 protected:
  SnapshotE2eTest() : PgmorphProcessTest("snap") {}

  std::optional<SnapshotProgressRow> progress() {
    try {
      PgConnection t = env().connectTarget();
      std::string schema = t.quoteIdent(env().stateSchema());
      auto s = t.execParams(fmt::format("SELECT snapshot_name, status FROM {}.snapshot"
                                        " WHERE pipeline = $1",
                                        schema),
                            {env().pipeline()});
      if (s.rows() == 0) return std::nullopt;
      auto n = t.execParams(fmt::format("SELECT count(*) FILTER (WHERE state = 'done'), count(*)"
                                        " FROM {}.snapshot_tables WHERE pipeline = $1",
                                        schema),
                            {env().pipeline()});
      return SnapshotProgressRow{std::string(s.value(0, 0)), std::string(s.value(0, 1)),
                                 std::stoi(std::string(n.value(0, 0))),
                                 std::stoi(std::string(n.value(0, 1)))};
    } catch (const std::exception&) {
      return std::nullopt;  // the state schema does not exist yet
    }
  }

  std::int64_t maxNotificationId() {
    PgConnection s = env().connectSource();
    return std::stoll(
        std::string(s.exec("SELECT coalesce(max(id), 0) FROM dispatch_notification").value(0, 0)));
  }

  void loadAndAnalyze() {
    env().loadSampleData(kScale);
    // The snapshot's progress and key-range split read pg_class.reltuples.
    env().connectSource().exec("ANALYZE");
  }
};

TEST_F(SnapshotE2eTest, SnapshotUnderWriteLoadThenFollowGivesTheExactProjection) {
  {
    PgConnection s = env().connectSource();
    SourceAudit::install(s, {"dispatch_notification", "dispatch_instruction", "dispatch_file"});
    PgConnection t = env().connectTarget();
    AuditLog::install(t, {"system_messages", "orders", "case_files"});
  }
  loadAndAnalyze();
  ChildProcess& writer = env().startWriter(25s, kWriterTps, kScale);
  std::int64_t before = maxNotificationId();
  ASSERT_TRUE(pollUntil(10s, [&] { return maxNotificationId() > before; }))
      << "the writer is not writing";

  auto start = Clock::now();
  // Key ranges of 20,000 rows on 3 workers: system_messages (60,000 rows) is split.
  ChildProcess& snapshot = startPgmorph("snapshot", {"--jobs", "3", "--split-rows", "20000"});
  std::int64_t atStart = maxNotificationId();
  ASSERT_EQ(finish(snapshot, 120s), 0) << snapshot.stderrText();
  std::chrono::duration<double> snapshotSeconds = Clock::now() - start;
  ASSERT_TRUE(writer.running()) << "the writer ended before the snapshot did: the snapshot did "
                                   "not run under write load the whole time";
  EXPECT_GT(maxNotificationId(), atStart) << "no source writes while the snapshot ran";
  std::string log = snapshot.stderrText();
  EXPECT_NE(log.find("key ranges"), std::string::npos) << "no table was split:\n" << log;
  EXPECT_NE(log.find("snapshot summary"), std::string::npos) << log;

  auto state = progress();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, "done");
  EXPECT_EQ(state->tasksDone, state->tasks);
  auto checkpoint = env().checkpoint();
  ASSERT_TRUE(checkpoint) << "the snapshot set no checkpoint";
  EXPECT_EQ(checkpoint->slot, env().slot());
  auto slot = env().slotState();
  ASSERT_TRUE(slot && slot->confirmedFlush);
  // Streaming starts exactly where the snapshot's point in time is: the slot's consistent
  // point, which the slot has not moved past.
  EXPECT_EQ(checkpoint->lsn, *slot->confirmedFlush);

  // A second snapshot run has nothing to do.
  ChildProcess& again = startPgmorph("snapshot");
  EXPECT_EQ(finish(again, 60s), 0);
  EXPECT_NE(again.stderrText().find("already done"), std::string::npos) << again.stderrText();

  env().finishWriter(writer);
  RunResult caughtUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(caughtUp.exitStatus, 0) << caughtUp.stderrText;

  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();
  PgConnection s = env().connectSource();
  PgConnection t = env().connectTarget();
  for (auto [source, target] : {std::pair{"dispatch_notification", "system_messages"},
                                {"dispatch_instruction", "orders"},
                                {"dispatch_file", "case_files"}}) {
    ExactlyOnceReport once = checkExactlyOnce(s, t, env().idNamespace(), source, target);
    EXPECT_TRUE(once.ok()) << target << ": " << once.str();
    EXPECT_GT(once.rows, 0);
  }
  std::cout << fmt::format(
      "[e2e] snapshot of {} rows under write load in {:.1f} s ({:.0f} rows/s incl. start-up)\n",
      report.expectedRows(), snapshotSeconds.count(),
      report.expectedRows() / snapshotSeconds.count());
}

TEST_F(SnapshotE2eTest, KilledTwiceDuringTheSnapshotThenRunGivesTheSameResultWithoutDuplicates) {
  loadAndAnalyze();
  ChildProcess& writer = env().startWriter(35s, kWriterTps, kScale);

  // First kill: early, as soon as the first table is done.
  ChildProcess& first = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        auto p = progress();
        return !first.running() || (p && p->tasksDone >= 1);
      },
      10ms));
  ASSERT_EQ(first.kill9(), 137) << "the snapshot ended before it could be killed:\n"
                                << first.stderrText();
  auto afterFirst = progress();
  ASSERT_TRUE(afterFirst);
  EXPECT_EQ(afterFirst->status, "in_progress");
  EXPECT_LT(afterFirst->tasksDone, afterFirst->tasks);

  // Second kill: later, once several levels are done, under a new exported snapshot.
  ChildProcess& second = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        auto p = progress();
        return !second.running() ||
               (p && p->snapshotName != afterFirst->snapshotName && p->tasksDone >= 5);
      },
      10ms));
  ASSERT_EQ(second.kill9(), 137) << "the snapshot ended before it could be killed:\n"
                                 << second.stderrText();
  auto afterSecond = progress();
  ASSERT_TRUE(afterSecond);
  EXPECT_EQ(afterSecond->status, "in_progress");
  EXPECT_GE(afterSecond->tasksDone, 5);
  EXPECT_NE(second.stderrText().find("can no longer be imported"), std::string::npos)
      << second.stderrText();

  // `follow` alone must not stream into a half-loaded target.
  RunResult refused = env().runFollowUntilCaughtUp();
  EXPECT_EQ(refused.exitStatus, 2) << refused.stderrText;
  EXPECT_NE(refused.stderrText.find("is not finished"), std::string::npos) << refused.stderrText;

  // `run` notices the dead snapshot, starts over, and follows from its consistent point.
  ASSERT_TRUE(writer.running()) << "the writer ended before the last snapshot started";
  ChildProcess& run = startPgmorph("run", {"--until-caught-up"});
  ASSERT_EQ(finish(run, 180s), 0) << run.stderrText();
  EXPECT_NE(run.stderrText().find("can no longer be imported"), std::string::npos)
      << run.stderrText();
  env().finishWriter(writer);
  RunResult caughtUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(caughtUp.exitStatus, 0) << caughtUp.stderrText;

  auto state = progress();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, "done");
  EXPECT_NE(state->snapshotName, afterSecond->snapshotName);
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();
  for (const auto& table : report.tables) {
    EXPECT_EQ(table.duplicates, 0u) << table.table;
    EXPECT_EQ(table.extra, 0u) << table.table;
  }
}

TEST_F(SnapshotE2eTest, AWorkerLosingItsTargetSessionResumesUnderTheSameSnapshot) {
  loadAndAnalyze();
  // system_messages in 3 key ranges on 2 workers: some ranges commit before the failure.
  ChildProcess& snapshot = startPgmorph("snapshot", {"--jobs", "2", "--split-rows", "20000"});
  // The target session copying into system_messages is terminated by the server (as when
  // an administrator or a failover ends it): a transient error inside a living process.
  PgConnection admin(test::sharedTarget().conninfo(env().targetDb()), "e2e target");
  int terminated = 0;
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        if (!snapshot.running()) return true;
        auto res = admin.exec(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'COPY "
            "\"public\".\"system_messages\"%'"
            " AND state = 'active'");
        terminated = std::stoi(std::string(res.value(0, 0)));
        return terminated > 0;
      },
      5ms));
  ASSERT_GT(terminated, 0) << "the snapshot ended before its copy could be interrupted:\n"
                           << snapshot.stderrText();
  ASSERT_EQ(finish(snapshot, 120s), 0) << snapshot.stderrText();
  std::string log = snapshot.stderrText();
  EXPECT_NE(log.find("retrying the snapshot"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming the snapshot"), std::string::npos) << log;
  EXPECT_EQ(log.find("can no longer be imported"), std::string::npos)
      << "the exported snapshot was still alive, it must not start over:\n"
      << log;

  RunResult caughtUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(caughtUp.exitStatus, 0) << caughtUp.stderrText;
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();
}

TEST_F(SnapshotE2eTest, RowsTheTargetRefusesAreParkedAndTheRestOfTheSnapshotLands) {
  loadAndAnalyze();
  PgConnection source = env().connectSource();
  // A notification to a user that does not exist (the legacy table has no foreign key), and an
  // e-mail that the target's CHECK refuses during the COPY of profiles.
  std::string orphan(source
                         .exec("INSERT INTO dispatch_notification (recipient_id, template,"
                               " template_context) VALUES (999999, 'order_shipped', '{}')"
                               " RETURNING id")
                         .value(0, 0));
  source.exec("UPDATE dispatch_user SET email = 'not an address' WHERE id = 5");
  ChildProcess& first = startPgmorph("snapshot");
  ASSERT_EQ(finish(first, 120s), 0) << first.stderrText();
  auto state = progress();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, "done");

  // Parked with their reasons (the stream's rules: see ParkingDispatchTest for the whole
  // set); nothing of them on the target, everything else there.
  PgConnection target = env().connectTarget();
  auto parked = [&](const std::string& table, const std::string& key) {
    auto res = target.execParams(
        fmt::format("SELECT kind || ': ' || reason FROM {}.parked WHERE target_table = $1 AND "
                    "legacy_key = $2",
                    target.quoteIdent(env().stateSchema())),
        {table, key});
    return res.rows() == 1 ? std::string(res.value(0, 0)) : std::string("<not parked>");
  };
  std::string message = parked("public.system_messages", orphan);
  EXPECT_EQ(message.rfind("missing_parent: ", 0), 0u) << message;
  EXPECT_NE(message.find("recipient_id"), std::string::npos) << message;
  std::string profile = parked("public.profiles", "5");
  EXPECT_EQ(profile.rfind("refused: ", 0), 0u) << profile;
  EXPECT_NE(profile.find("profiles_email_check"), std::string::npos) << profile;
  EXPECT_EQ(target.exec("SELECT count(*) FROM profiles WHERE legacy_user_id = 5").value(0, 0), "0");
  EXPECT_EQ(
      target.exec("SELECT count(*) FROM system_messages WHERE legacy_notification_id = " + orphan)
          .value(0, 0),
      "0");
  EXPECT_NE(target.exec("SELECT count(*) FROM profiles").value(0, 0), "0");

  // Fixed on the source: the stream applies what was parked, and the target is complete.
  source.exec("DELETE FROM dispatch_notification WHERE id = " + orphan);
  source.exec("UPDATE dispatch_user SET email = 'user5@example.com' WHERE id = 5");
  RunResult follow = env().runFollowUntilCaughtUp();
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  EXPECT_EQ(target
                .exec(fmt::format("SELECT count(*) FROM {}.parked",
                                  target.quoteIdent(env().stateSchema())))
                .value(0, 0),
            "0");
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << report.str();
}

}  // namespace
}  // namespace pgmorph::e2e
