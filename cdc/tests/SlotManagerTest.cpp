// SlotManager against real PostgreSQL 15 servers: slot lifecycle, and the source checks
// with the sentences a DBA gets (including on a wal_level=replica cluster).
#include "cdc/SlotManager.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "cdc/model/Errors.h"
#include "cdc/tests/CdcTestSupport.h"

namespace pgmorph {
namespace {

bool contains(const std::vector<std::string>& problems, std::string_view text) {
  for (const auto& p : problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

std::string checkError(SlotManager& manager, const std::string& slot = {}) {
  try {
    manager.checkSource(slot);
  } catch (const PgmorphError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    return e.what();
  }
  ADD_FAILURE() << "checkSource found no problem";
  return {};
}

class SlotManagerTest : public test::SourceDatabaseTest {};

TEST_F(SlotManagerTest, CreatesInspectsAndDropsASlot) {
  SlotManager manager(conninfo());
  std::string slot = test::uniqueSlotName("slots");
  EXPECT_FALSE(manager.inspect(slot).has_value());
  CreatedSlot created = manager.create(slot);
  EXPECT_EQ(created.name, slot);
  EXPECT_FALSE(created.consistentPoint.isZero());
  EXPECT_EQ(created.snapshotName, "");  // SNAPSHOT 'nothing'

  auto info = manager.inspect(slot);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, slot);
  EXPECT_EQ(info->plugin, "wal2json");
  EXPECT_EQ(info->database, db_);
  EXPECT_FALSE(info->active);
  EXPECT_EQ(info->walStatus, "reserved");
  EXPECT_EQ(info->confirmedFlush, created.consistentPoint);
  EXPECT_FALSE(info->restartLsn.isZero());
  EXPECT_LE(info->restartLsn, info->confirmedFlush);

  manager.drop(slot);
  EXPECT_FALSE(manager.inspect(slot).has_value());
  EXPECT_NO_THROW(manager.drop(slot));  // already gone: not an error
}

TEST_F(SlotManagerTest, CreatingAnExistingSlotSaysWhatToDo) {
  SlotManager manager(conninfo());
  std::string slot = test::uniqueSlotName("dup");
  manager.create(slot);
  try {
    manager.create(slot);
    FAIL() << "created the same slot twice";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(msg.find("\"" + slot + "\" already exists"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pg_drop_replication_slot('" + slot + "')"), std::string::npos) << msg;
  }
}

TEST_F(SlotManagerTest, AWal2jsonSourcePassesTheChecks) {
  SlotManager manager(conninfo());
  std::string slot = test::uniqueSlotName("ok");
  EXPECT_TRUE(manager.sourceProblems().empty());
  manager.create(slot);
  auto problems = manager.sourceProblems(slot);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_NO_THROW(manager.checkSource(slot));
  EXPECT_NO_THROW(manager.checkSource("pgmorph_not_created_yet"));  // created later: fine
}

TEST_F(SlotManagerTest, ASlotOfAnotherPluginOrDatabaseIsReported) {
  std::string slot = test::uniqueSlotName("testdec");
  source().scalar(
      db_, fmt::format("SELECT pg_create_logical_replication_slot('{}', 'test_decoding')", slot));
  SlotManager manager(conninfo());
  std::string msg = checkError(manager, slot);
  EXPECT_NE(msg.find("uses the plugin test_decoding, not wal2json"), std::string::npos) << msg;
  EXPECT_NE(msg.find(slot), std::string::npos) << msg;

  std::string ours = test::uniqueSlotName("otherdb");
  manager.create(ours);
  SlotManager fromPostgres(source().conninfo("postgres"));
  msg = checkError(fromPostgres, ours);
  EXPECT_NE(msg.find(fmt::format("belongs to database \"{}\", not to the source database "
                                 "\"postgres\"",
                                 db_)),
            std::string::npos)
      << msg;
}

TEST_F(SlotManagerTest, Wal2jsonMissingFromOutputPluginLibrariesIsReported) {
  // The setting came with 15.19; older 15.x servers refuse a connection that sets it.
  if (source().scalar(db_,
                      "SELECT count(*) FROM pg_settings"
                      " WHERE name = 'output_plugin_libraries'") == "0")
    GTEST_SKIP() << "server "
                 << source().scalar(db_,
                                    "SELECT (v / 10000) || '.' || (v % 10000) FROM"
                                    " CAST(current_setting('server_version_num') AS int) v")
                 << " has no output_plugin_libraries (added in 15.19)";
  // A superuser may set it for one session: this one sees the 15.19+ default again.
  SlotManager manager(conninfo() + " options='-c output_plugin_libraries=pgoutput,test_decoding'");
  auto problems = manager.sourceProblems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("ALTER SYSTEM SET output_plugin_libraries = pgoutput, "
                             "test_decoding, wal2json"),
            std::string::npos)
      << problems[0];
  try {
    manager.create(test::uniqueSlotName("denied"));
    FAIL() << "created a wal2json slot that the server should refuse";
  } catch (const PgmorphError& e) {
    EXPECT_NE(std::string(e.what()).find("add wal2json to output_plugin_libraries"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SlotManagerTest, ARoleWithoutReplicationIsReported) {
  std::string role = test::uniqueSlotName("role");
  source().psql("postgres", fmt::format("CREATE ROLE {} LOGIN", role));
  SlotManager manager(
      fmt::format("host=127.0.0.1 port={} user={} dbname={}", source().port(), role, db_));
  auto problems = manager.sourceProblems();
  source().psql("postgres", fmt::format("DROP ROLE {}", role));
  EXPECT_TRUE(contains(problems, fmt::format("ALTER ROLE \"{}\" REPLICATION", role)))
      << (problems.empty() ? "no problem found" : problems.front());
}

TEST(SlotManagerOnReplicaCluster, WalLevelReplicaIsReportedWithTheFix) {
  test::PgCluster replica(
      test::PgCluster::Options{.name = "replica", .logical = false, .settings = {}});
  test::allowWal2json(replica);
  SlotManager manager(replica.conninfo());
  auto problems = manager.sourceProblems();
  ASSERT_EQ(problems.size(), 1u) << problems.front();
  EXPECT_NE(problems[0].find("wal_level=replica"), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("ALTER SYSTEM SET wal_level = logical"), std::string::npos)
      << problems[0];
  std::string msg = checkError(manager);
  EXPECT_NE(msg.find("restart"), std::string::npos) << msg;
  try {
    manager.create("pgmorph_replica_check");
    FAIL() << "created a logical slot with wal_level=replica";
  } catch (const PgmorphError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(std::string(e.what()).find("wal_level = logical"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgmorph
