// End to end: schema drift while `pgmorph follow` streams (README: Schema changes on the
// source). A small schema of its own (item -> items) on a fresh database of the shared source
// and target clusters; pgmorph runs as a child process. Each test changes the source table's
// columns under a running follow and expects what `on_schema_change` says: exit 2 naming the
// table, the column and the change, nothing of the drifted transaction on the target and the
// checkpoint before it; then, after the fix, a start that resumes and lands the row once.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/Poll.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;
using e2e::pollUntil;

class SchemaDriftEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(std::random_device{}());
    pipeline_ = fmt::format("drift_{}", rng() % 1000000);
    slot_ = "pgmorph_" + pipeline_;
    sourceDb_ = source_.createDatabase("drift");
    targetDb_ = target_.createDatabase("drift");
    source_.psql(sourceDb_, "CREATE TABLE item (id int PRIMARY KEY, name text, qty int)");
    target_.psql(targetDb_,
                 "CREATE TABLE items (id uuid PRIMARY KEY, legacy_id int UNIQUE NOT NULL, "
                 "name text, qty int)");
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgmorph-drift-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    workDir_ = tmpl;
    config_ = workDir_ + "/pipeline.yaml";
  }

  void TearDown() override {
    for (auto& p : runs_) {
      if (HasFailure())
        std::cerr << "---- " << p->commandLine() << " stderr ----\n" << p->stderrText();
    }
    runs_.clear();  // killed and reaped
    source_.dropReplicationSlot(slot_);
    source_.dropDatabase(sourceDb_);
    target_.dropDatabase(targetDb_);
    std::filesystem::remove_all(workDir_);
  }

  void writeMapping(const std::string& policy, bool withQty = true) {
    std::ofstream(config_) << fmt::format(
        R"(pipeline: {}
source:
  conninfo: "{}"
  slot: {}
target:
  conninfo: "{}"
  state_schema: drift_state
ids:
  namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b
{}tables:
  item:
    - target: items
      key: id
      legacy_id: legacy_id
      columns:
        name: name
{})",
        pipeline_, source_.conninfo(sourceDb_), slot_, target_.conninfo(targetDb_),
        policy.empty() ? "" : "on_schema_change: " + policy + "\n",
        withQty ? "        qty: qty\n" : "");
  }

  e2e::ChildProcess& start(const std::string& command) {
    runs_.push_back(std::make_unique<e2e::ChildProcess>(
        std::vector<std::string>{PGMORPH_BINARY, command, "-c", config_, "--log-level", "info"},
        fmt::format("{}/{:02}-{}", workDir_, runs_.size(), command)));
    return *runs_.back();
  }

  // A follow that streams: the slot is active.
  e2e::ChildProcess& follow() {
    auto& p = start("follow");
    EXPECT_TRUE(pollUntil(60s, [&] {
      return !p.running() ||
             source_.scalar(sourceDb_, fmt::format("SELECT count(*) FROM pg_replication_slots "
                                                   "WHERE slot_name = '{}' AND active",
                                                   slot_)) == "1";
    }));
    EXPECT_TRUE(p.running()) << p.stderrText();
    return p;
  }

  int rows(int legacyId) {
    return std::stoi(target_.scalar(
        targetDb_, fmt::format("SELECT count(*) FROM items WHERE legacy_id = {}", legacyId)));
  }
  bool arrives(int legacyId) {
    return pollUntil(60s, [&] { return rows(legacyId) == 1; });
  }
  std::string checkpoint() {
    return target_.scalar(targetDb_, "SELECT lsn FROM drift_state.checkpoint");
  }
  std::string sourceLsn() {
    return source_.scalar(sourceDb_, "SELECT pg_current_wal_insert_lsn()");
  }
  bool atOrBelow(const std::string& a, const std::string& b) {
    return target_.scalar(targetDb_, fmt::format("SELECT '{}'::pg_lsn <= '{}'::pg_lsn", a, b)) ==
           "t";
  }
  void stop(e2e::ChildProcess& p) {
    p.signal(SIGTERM);
    EXPECT_EQ(p.waitFor(60s), 0) << p.stderrText();
  }
  // Starts the source transaction that drifts and waits for follow to stop on it (exit 2);
  // nothing of it may be on the target, and the checkpoint stays before it.
  void expectStopOn(e2e::ChildProcess& p, const std::string& ddl, const std::string& change,
                    const std::vector<std::string>& said) {
    source_.psql(sourceDb_, ddl);
    // Everything of the drifted transaction lies above this position; applied, it would move
    // the checkpoint to its commit's end.
    std::string before = sourceLsn();
    source_.psql(sourceDb_, change);
    EXPECT_EQ(p.waitFor(60s), 2) << p.stderrText();
    std::string err = p.stderrText();
    for (const auto& s : said) EXPECT_NE(err.find(s), std::string::npos) << s << "\n" << err;
    EXPECT_TRUE(atOrBelow(checkpoint(), before)) << checkpoint() << " vs " << before;
  }

  test::PgCluster& source_ = test::sharedSource();
  test::PgCluster& target_ = test::sharedTarget();
  std::string pipeline_, slot_, sourceDb_, targetDb_, workDir_, config_;
  std::vector<std::unique_ptr<e2e::ChildProcess>> runs_;
};

TEST_F(SchemaDriftEndToEnd, AnAddedColumnStopsAndIgnoreNewColumnsResumes) {
  writeMapping("");
  auto& first = follow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'a', 1)");
  ASSERT_TRUE(arrives(1));
  expectStopOn(first, "ALTER TABLE item ADD COLUMN color text",
               "INSERT INTO item VALUES (2, 'b', 2, 'red')",
               {"schema change on source table public.item", "column color added, not mapped",
                fmt::format("map color in {}:", config_), "on_schema_change: stop"});
  EXPECT_EQ(rows(2), 0);

  // check reports the same drift, as a problem.
  auto& check = start("check");
  EXPECT_EQ(check.waitFor(60s), 1) << check.stdoutText();
  EXPECT_NE(check.stdoutText().find("column color (text) added, not mapped"), std::string::npos)
      << check.stdoutText();
  // A start under `stop` refuses it too.
  auto& refused = start("follow");
  EXPECT_EQ(refused.waitFor(60s), 2);
  EXPECT_EQ(rows(2), 0);

  writeMapping("ignore_new_columns");
  auto& resumed = follow();
  ASSERT_TRUE(arrives(2));
  source_.psql(sourceDb_, "INSERT INTO item VALUES (3, 'c', 3, 'blue')");
  ASSERT_TRUE(arrives(3));
  stop(resumed);
  EXPECT_EQ(rows(1), 1);
  EXPECT_EQ(rows(2), 1);
  EXPECT_NE(resumed.stderrText().find("accepted its new columns"), std::string::npos);
}

TEST_F(SchemaDriftEndToEnd, AMappedColumnThatDisappearsStopsUntilTheMappingDropsIt) {
  writeMapping("ignore_new_columns");  // does not let a mapped column go
  auto& first = follow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'a', 1)");
  ASSERT_TRUE(arrives(1));
  expectStopOn(first, "ALTER TABLE item DROP COLUMN qty", "INSERT INTO item VALUES (2, 'b')",
               {"public.item", "mapped column qty (integer) disappeared",
                fmt::format("remove qty from the mapping at {}:", config_)});
  EXPECT_EQ(rows(2), 0);

  writeMapping("ignore_new_columns", false);
  auto& resumed = follow();
  ASSERT_TRUE(arrives(2));
  stop(resumed);
  EXPECT_EQ(rows(2), 1);
}

TEST_F(SchemaDriftEndToEnd, ARetypedMappedColumnStopsNamingBothTypes) {
  writeMapping("");
  auto& first = follow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'a', 1)");
  ASSERT_TRUE(arrives(1));
  expectStopOn(first, "ALTER TABLE item ALTER COLUMN qty TYPE text",
               "BEGIN; INSERT INTO item VALUES (2, 'b', '2'); "
               "UPDATE item SET qty = 'many' WHERE id = 1; COMMIT",
               {"public.item", "mapped column qty retyped integer -> text"});
  EXPECT_EQ(rows(2), 0);
  EXPECT_EQ(target_.scalar(targetDb_, "SELECT qty FROM items WHERE legacy_id = 1"), "1");
}

TEST_F(SchemaDriftEndToEnd, IgnoreNewColumnsLetsAnUnmappedColumnThrough) {
  writeMapping("ignore_new_columns");
  auto& p = follow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'a', 1)");
  ASSERT_TRUE(arrives(1));
  source_.psql(sourceDb_, "ALTER TABLE item ADD COLUMN color text");
  source_.psql(sourceDb_, "INSERT INTO item VALUES (2, 'b', 2, 'red')");
  ASSERT_TRUE(arrives(2));
  source_.psql(sourceDb_, "UPDATE item SET color = 'green', qty = 5 WHERE id = 1");
  ASSERT_TRUE(pollUntil(60s, [&] {
    return target_.scalar(targetDb_, "SELECT qty FROM items WHERE legacy_id = 1") == "5";
  }));
  EXPECT_TRUE(p.running());
  stop(p);
  EXPECT_NE(p.stderrText().find("column color added, not mapped; ignored"), std::string::npos)
      << p.stderrText();
}

TEST_F(SchemaDriftEndToEnd, ChangesFromBeforeADdlMadeWhileDownAreNotDrift) {
  // The start accepts the new shape from the catalog, while the stream still holds changes in
  // the old one (an insert made before the ALTER): those are not a dropped column.
  writeMapping("ignore_new_columns");
  auto& first = follow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'a', 1)");
  ASSERT_TRUE(arrives(1));
  stop(first);
  source_.psql(sourceDb_, "INSERT INTO item VALUES (2, 'b', 2)");
  source_.psql(sourceDb_, "ALTER TABLE item ADD COLUMN color text");
  source_.psql(sourceDb_, "INSERT INTO item VALUES (3, 'c', 3, 'red')");
  auto& resumed = follow();
  ASSERT_TRUE(arrives(2));
  ASSERT_TRUE(arrives(3));
  stop(resumed);
  EXPECT_NE(resumed.stderrText().find("source table public.item: accepted its new columns (column "
                                      "color (text) added, not mapped)"),
            std::string::npos)
      << resumed.stderrText();
}

}  // namespace
}  // namespace pgmorph
