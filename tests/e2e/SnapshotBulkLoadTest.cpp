// End to end: the snapshot's bulk load (indexes and foreign keys dropped while the tables are
// copied, rebuilt afterwards) leaves the target's schema exactly as it was — every index and
// constraint definition equal to the one before — also after pgmorph is killed (-9) while it
// copies and while it rebuilds; and a UNIQUE index that can refuse a row pgmorph writes (on a
// business column) stays in place during the load, so that a duplicate is parked alone with
// PostgreSQL's message instead of failing the rebuild (the rebuild's own failure path is
// tested in sink/tests/IndexSuspenderTest.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "tests/e2e/PgmorphProcessTest.h"
#include "tests/e2e/Poll.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

constexpr int kScale = 4;  // ~100,000 rows: system_messages copies long enough to be caught

// Every index and constraint of the target's public schema: name -> definition (with the
// validated flag of constraints, so that a key left NOT VALID shows).
using Definitions = std::map<std::string, std::string>;

class SnapshotBulkLoadTest : public PgmorphProcessTest {
 protected:
  SnapshotBulkLoadTest() : PgmorphProcessTest("bulk") {}

  Definitions definitions() {
    PgConnection t = env().connectTarget();
    Definitions out;
    auto idx = t.exec(
        "SELECT tablename || '.' || indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = 'public'");
    for (int r = 0; r < idx.rows(); ++r)
      out["index " + std::string(idx.value(r, 0))] = std::string(idx.value(r, 1));
    auto con = t.exec(
        "SELECT c.conrelid::regclass::text || '.' || c.conname,"
        "       c.contype::text || ' ' || pg_get_constraintdef(c.oid) || ' validated=' || "
        "c.convalidated"
        "       || ' deferrable=' || c.condeferrable"
        "  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = 'public'");
    for (int r = 0; r < con.rows(); ++r)
      out["constraint " + std::string(con.value(r, 0))] = std::string(con.value(r, 1));
    return out;
  }

  static std::string diff(const Definitions& want, const Definitions& got) {
    std::string out;
    for (const auto& [k, v] : want) {
      auto it = got.find(k);
      if (it == got.end())
        out += fmt::format("  missing {}: {}\n", k, v);
      else if (it->second != v)
        out += fmt::format("  changed {}: {} -> {}\n", k, v, it->second);
    }
    for (const auto& [k, v] : got)
      if (!want.count(k)) out += fmt::format("  extra {}: {}\n", k, v);
    return out;
  }

  // Rows of the state table by state.
  std::map<std::string, int> suspendedStates() {
    PgConnection t = env().connectTarget();
    std::map<std::string, int> out;
    try {
      auto res = t.execParams(fmt::format("SELECT state, count(*) FROM {}.suspended_ddl"
                                          " WHERE pipeline = $1 GROUP BY state",
                                          t.quoteIdent(env().stateSchema())),
                              {env().pipeline()});
      for (int r = 0; r < res.rows(); ++r)
        out[std::string(res.value(r, 0))] = std::stoi(std::string(res.value(r, 1)));
    } catch (const std::exception&) {
    }
    return out;
  }

  int tasksDone() {
    try {
      PgConnection t = env().connectTarget();
      auto res = t.execParams(fmt::format("SELECT count(*) FROM {}.snapshot_tables"
                                          " WHERE pipeline = $1 AND state = 'done'",
                                          t.quoteIdent(env().stateSchema())),
                              {env().pipeline()});
      return std::stoi(std::string(res.value(0, 0)));
    } catch (const std::exception&) {
      return 0;
    }
  }

  void loadAndAnalyze() {
    env().loadSampleData(kScale);
    env().connectSource().exec("ANALYZE");
  }
};

TEST_F(SnapshotBulkLoadTest, IndexesAndConstraintsAfterTheSnapshotAreExactlyTheOriginalOnes) {
  loadAndAnalyze();
  Definitions before = definitions();
  ASSERT_GE(before.size(), 40u) << "the example's target schema was not found";

  ChildProcess& snapshot = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_EQ(finish(snapshot, 180s), 0) << snapshot.stderrText();
  std::string log = snapshot.stderrText();
  EXPECT_NE(log.find("suspended 13 foreign keys and 22 indexes/constraints"), std::string::npos)
      << log;
  EXPECT_NE(log.find("rebuilt 2 of public.system_messages"), std::string::npos) << log;
  EXPECT_NE(log.find("restored 13 foreign keys"), std::string::npos) << log;

  EXPECT_EQ(diff(before, definitions()), "");
  auto states = suspendedStates();
  EXPECT_EQ(states["suspended"], 0);
  EXPECT_EQ(states["restored"], 35);

  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << report.str();
  RunResult follow = env().runFollowUntilCaughtUp();
  EXPECT_EQ(follow.exitStatus, 0) << follow.stderrText;
}

TEST_F(SnapshotBulkLoadTest, KilledWhileCopyingAndWhileRebuildingThenRunRestoresEveryDefinition) {
  loadAndAnalyze();
  Definitions before = definitions();

  // First kill: during the copy, once a table is done (and rebuilt or about to be).
  ChildProcess& first = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_TRUE(pollUntil(
      60s, [&] { return !first.running() || tasksDone() >= 2; }, 10ms));
  ASSERT_EQ(first.kill9(), 137) << "the snapshot ended before it could be killed:\n"
                                << first.stderrText();
  auto states = suspendedStates();
  EXPECT_GT(states["suspended"], 0) << "nothing is recorded as suspended during the copy";
  EXPECT_NE(diff(before, definitions()), "") << "the copy ran with every definition in place";

  // `follow` must not stream into a target without its keys.
  RunResult refused = env().runFollowUntilCaughtUp();
  EXPECT_EQ(refused.exitStatus, 2) << refused.stderrText;

  // Second kill: while system_messages' indexes are being built. A session of the test holds
  // ROW EXCLUSIVE on the table (the COPY's own lock, which does not block it) so that the
  // rebuild, which needs a stronger one, waits until pgmorph has been killed.
  ChildProcess& second = startPgmorph("snapshot", {"--jobs", "2"});
  PgConnection blocker = env().connectTarget();
  PgConnection watcher = env().connectTarget();
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        if (!second.running()) return true;
        auto res = watcher.exec(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE 'COPY \"public\".\"system_messages\"%' AND state = 'active'");
        return res.value(0, 0) != "0";
      },
      5ms));
  ASSERT_TRUE(second.running()) << second.stderrText();
  blocker.exec("BEGIN");
  blocker.exec("LOCK TABLE system_messages IN ROW EXCLUSIVE MODE");
  ASSERT_TRUE(pollUntil(
      120s,
      [&] {
        if (!second.running()) return true;
        auto res = watcher.exec(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE 'CREATE UNIQUE INDEX system_messages_%'"
            " AND wait_event_type = 'Lock'");
        return res.value(0, 0) != "0";
      },
      10ms));
  ASSERT_EQ(second.kill9(), 137) << "the snapshot ended before its rebuild could be caught:\n"
                                 << second.stderrText();
  blocker.exec("COMMIT");
  EXPECT_GT(suspendedStates()["suspended"], 0);

  ChildProcess& run = startPgmorph("run", {"--until-caught-up", "--jobs", "2"});
  ASSERT_EQ(finish(run, 180s), 0) << run.stderrText();
  EXPECT_EQ(diff(before, definitions()), "");
  states = suspendedStates();
  EXPECT_EQ(states["suspended"], 0);
  EXPECT_EQ(states["restored"], 35);
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << report.str();
  for (const auto& table : report.tables) {
    EXPECT_EQ(table.duplicates, 0u) << table.table;
    EXPECT_EQ(table.extra, 0u) << table.table;
  }
}

TEST_F(SnapshotBulkLoadTest, ADuplicateOnANonKeyUniqueIndexIsParkedDuringTheLoadAndTheIndexStays) {
  loadAndAnalyze();
  // A stricter target than the source: e-mails unique. Two users share one on the source. The
  // index can refuse a row, so the bulk load leaves it in place: one twin is refused and
  // parked with PostgreSQL's message, the rest of the snapshot goes on.
  env().connectTarget().exec("CREATE UNIQUE INDEX profiles_email_key ON profiles (email)");
  PgConnection source = env().connectSource();
  source.exec("UPDATE dispatch_user SET email = 'twin@example.com' WHERE id IN (3, 4)");
  Definitions before = definitions();

  ChildProcess& first = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_EQ(finish(first, 180s), 0) << first.stderrText();
  std::string log = first.stderrText();
  EXPECT_NE(log.find("public.profiles keeps in place"), std::string::npos) << log;
  EXPECT_EQ(diff(before, definitions()), "");
  EXPECT_EQ(suspendedStates()["suspended"], 0);

  PgConnection target = env().connectTarget();
  std::string parked = target.quoteQualified(env().stateSchema(), "parked");
  auto twins = target.exec(fmt::format(
      "SELECT legacy_key, kind, reason FROM {} WHERE target_table = 'public.profiles'", parked));
  ASSERT_EQ(twins.rows(), 1) << log;
  std::string twin(twins.value(0, 0));
  EXPECT_TRUE(twin == "3" || twin == "4") << twin;
  EXPECT_EQ(twins.value(0, 1), "refused");
  std::string reason(twins.value(0, 2));
  EXPECT_NE(reason.find("duplicate key value violates unique constraint \"profiles_email_key\""),
            std::string::npos)
      << reason;
  // The key column, not the value: no personal data in the reason (ServerDetail.h).
  EXPECT_NE(reason.find("Key (email) already exists"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("twin@example.com"), std::string::npos) << reason;
  auto loaded = target.exec(
      "SELECT string_agg(legacy_user_id::text, ',' ORDER BY legacy_user_id) FROM profiles"
      " WHERE email = 'twin@example.com'");
  EXPECT_EQ(loaded.value(0, 0), twin == "3" ? "4" : "3");

  // Fixed on the source: follow applies the twin and drains what was parked.
  source.exec("UPDATE dispatch_user SET email = 'user' || id || '@example.com' WHERE id IN (3, 4)");
  RunResult follow = env().runFollowUntilCaughtUp();
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  auto both = target.exec("SELECT count(*) FROM profiles WHERE legacy_user_id IN (3, 4)");
  EXPECT_EQ(both.value(0, 0), "2") << follow.stderrText;
  auto left = target.exec(fmt::format("SELECT count(*) FROM {}", parked));
  EXPECT_EQ(left.value(0, 0), "0") << follow.stderrText;
  EXPECT_EQ(diff(before, definitions()), "");
}

TEST_F(SnapshotBulkLoadTest, KilledWhileAddingTheForeignKeysBackThenRunOnlyRestoresThem) {
  loadAndAnalyze();
  // A table the mapping does not load, whose key onto offices must go for offices' primary
  // key to be rebuilt — and come back at the end.
  env().connectTarget().exec(
      "CREATE TABLE office_notes (id int PRIMARY KEY, office_id uuid REFERENCES offices (id))");
  Definitions before = definitions();
  ASSERT_EQ(before.count("constraint office_notes.office_notes_office_id_fkey"), 1u);

  // Once the bulk load has suspended the definitions, a session of the test holds ROW EXCLUSIVE
  // on office_notes: nothing of the copy or the rebuilds needs it, only adding its key back.
  ChildProcess& first = startPgmorph("snapshot", {"--jobs", "2"});
  ASSERT_TRUE(pollUntil(
      60s, [&] { return !first.running() || suspendedStates()["suspended"] > 0; }, 5ms));
  PgConnection blocker = env().connectTarget();
  blocker.exec("BEGIN");
  blocker.exec("LOCK TABLE office_notes IN ROW EXCLUSIVE MODE");
  PgConnection watcher = env().connectTarget();
  ASSERT_TRUE(pollUntil(
      120s,
      [&] {
        if (!first.running()) return true;
        auto res = watcher.exec(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE 'ALTER TABLE \"public\".\"office_notes\" ADD CONSTRAINT%'"
            " AND wait_event_type = 'Lock'");
        return res.value(0, 0) != "0";
      },
      10ms));
  ASSERT_EQ(first.kill9(), 137) << "the snapshot ended before its foreign keys were caught:\n"
                                << first.stderrText();
  blocker.exec("COMMIT");
  EXPECT_EQ(tasksDone(), 13);
  EXPECT_EQ(definitions().count("constraint office_notes.office_notes_office_id_fkey"), 0u);

  // Every table is copied: `run` restores what is left without copying anything again.
  ChildProcess& run = startPgmorph("run", {"--until-caught-up", "--jobs", "2"});
  ASSERT_EQ(finish(run, 180s), 0) << run.stderrText();
  std::string log = run.stderrText();
  EXPECT_NE(log.find("is copied: restoring what the bulk load suspended"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("can no longer be imported"), std::string::npos) << log;
  EXPECT_EQ(diff(before, definitions()), "");
  EXPECT_EQ(suspendedStates()["suspended"], 0);
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << report.str();
}

}  // namespace
}  // namespace pgmorph::e2e
