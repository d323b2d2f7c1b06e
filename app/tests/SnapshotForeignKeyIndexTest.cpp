// snapshot.index_foreign_keys against real clusters (the shared source and target, a fresh
// database on each per test), on a small schema of its own whose target foreign key
// children.parent_id has no index: with the option the snapshot builds
// "children_parent_id_fkidx" (and `check` says it will, as information instead of a warning),
// and the suspended-DDL store is empty afterwards; without it no index appears; and an index
// whose build fails after the copy stays recorded, so the next run builds it. Also the name
// rule: deterministic, cut to 63 bytes on a UTF-8 boundary.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "app/ConfigFile.h"
#include "app/check/CheckCommand.h"
#include "app/snapshot/SnapshotCommand.h"
#include "sink/ForeignKeyIndexes.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

constexpr const char* kSourceSql = R"sql(
CREATE TABLE fi_parent (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE fi_child (id integer PRIMARY KEY, parent_id integer, note text);
INSERT INTO fi_parent SELECT g, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO fi_child SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 500) g;
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE parents (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE children (id uuid PRIMARY KEY, parent_id uuid REFERENCES parents (id), note text);
)sql";

std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot, bool indexForeignKeys) {
  return fmt::format(R"(pipeline: fi
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: fi_state }}
ids: {{ namespace: 3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f }}
snapshot: {{ index_foreign_keys: {} }}
tables:
  fi_parent:
    - target: parents
      key: id
      columns:
        name: name
  fi_child:
    - target: children
      key: id
      columns:
        parent_id: {{ to: parent_id, ref: fi_parent }}
        note: note
)",
                     source, slot, target, indexForeignKeys ? "true" : "false");
}

class SnapshotForeignKeyIndexTest : public ::testing::Test {
 protected:
  void setUp(bool indexForeignKeys) {
    sourceDb_ = test::sharedSource().createDatabase("fi");
    targetDb_ = test::sharedTarget().createDatabase("fi");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    path_ = fmt::format("/tmp/pgmorph-fkidx-{}.yaml", sourceDb_);
    std::ofstream(path_) << mappingYaml(test::sharedSource().conninfo(sourceDb_),
                                        test::sharedTarget().conninfo(targetDb_), slot_,
                                        indexForeignKeys);
  }

  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
    if (sourceDb_.empty()) return;
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  int snapshot() {
    PipelineConfig config = loadConfigFile(path_);
    SnapshotOptions options;
    options.jobs = 2;
    options.progressInterval = std::chrono::seconds(1);
    return SnapshotCommand(config).snapshot(options);
  }

  std::string check() {
    std::ostringstream s;
    CheckCommand::run(path_, false, s);
    return s.str();
  }

  std::string target(const std::string& sql) { return test::sharedTarget().scalar(targetDb_, sql); }

  // The indexes of children that lead with parent_id: "name:definition", or "" when none.
  std::string fkIndexes() {
    return target(
        "SELECT coalesce(string_agg(i.indexrelid::regclass::text || ':' ||"
        "       pg_get_indexdef(i.indexrelid), ', '), '')"
        "  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        "   AND a.attnum = i.indkey[0]"
        " WHERE i.indrelid = 'children'::regclass AND a.attname = 'parent_id'");
  }

  std::string suspendedLeft() {
    return target("SELECT count(*) FROM fi_state.suspended_ddl WHERE state = 'suspended'");
  }

  std::string sourceDb_, targetDb_, slot_, path_;
};

TEST_F(SnapshotForeignKeyIndexTest, WithTheOptionTheSnapshotBuildsTheIndex) {
  setUp(true);
  std::string before = check();
  EXPECT_NE(before.find("the snapshot builds index children_parent_id_fkidx"), std::string::npos)
      << before;
  EXPECT_NE(before.find("0 errors, 0 warnings"), std::string::npos) << before;

  ASSERT_EQ(snapshot(), 0);
  EXPECT_EQ(fkIndexes(),
            "children_parent_id_fkidx:CREATE INDEX children_parent_id_fkidx ON public.children "
            "USING btree (parent_id)");
  EXPECT_EQ(suspendedLeft(), "0");
  EXPECT_EQ(target("SELECT count(*) FROM children"), "500");
  // Now indexed: check has nothing to say about it any more.
  std::string after = check();
  EXPECT_EQ(after.find("children_parent_id_fkey"), std::string::npos) << after;
}

TEST_F(SnapshotForeignKeyIndexTest, WithoutTheOptionNoIndexAndCheckWarns) {
  setUp(false);
  std::string before = check();
  EXPECT_NE(before.find("CREATE INDEX ON children (parent_id)"), std::string::npos) << before;
  EXPECT_NE(before.find("0 errors, 1 warning"), std::string::npos) << before;
  ASSERT_EQ(snapshot(), 0);
  EXPECT_EQ(fkIndexes(), "");
  EXPECT_EQ(target("SELECT count(*) FROM children"), "500");
}

// The index is recorded with the snapshot's intent, not built then: a run whose build fails
// after the copy (here an event trigger refuses CREATE INDEX, standing in for a crash) leaves
// it recorded as suspended, and the next run, finding every table copied, builds it.
TEST_F(SnapshotForeignKeyIndexTest, AnIndexNotBuiltAfterTheCopyIsBuiltByTheNextRun) {
  setUp(true);
  test::sharedTarget().psql(targetDb_, R"sql(
CREATE FUNCTION refuse_index() RETURNS event_trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'no index today'; END $$;
CREATE EVENT TRIGGER refuse_index ON ddl_command_start WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION refuse_index();
-- pgmorph's sessions may run with session_replication_role = replica.
ALTER EVENT TRIGGER refuse_index ENABLE ALWAYS;
)sql");
  EXPECT_EQ(snapshot(), 2);
  EXPECT_EQ(fkIndexes(), "");
  EXPECT_NE(suspendedLeft(), "0");
  EXPECT_EQ(target("SELECT state FROM fi_state.suspended_ddl"
                   " WHERE name = 'children_parent_id_fkidx'"),
            "suspended");
  test::sharedTarget().psql(targetDb_, "DROP EVENT TRIGGER refuse_index;");
  ASSERT_EQ(snapshot(), 0);
  EXPECT_EQ(fkIndexes(),
            "children_parent_id_fkidx:CREATE INDEX children_parent_id_fkidx ON public.children "
            "USING btree (parent_id)");
  EXPECT_EQ(suspendedLeft(), "0");
}

TEST(ForeignKeyIndexName, IsDeterministicAndFitsSixtyThreeBytes) {
  EXPECT_EQ(foreignKeyIndexName("children", {"parent_id"}), "children_parent_id_fkidx");
  EXPECT_EQ(foreignKeyIndexName("t", {"a", "b"}), "t_a_b_fkidx");
  EXPECT_EQ(foreignKeyIndexName("t", {"a"}, 2), "t_a_2_fkidx");
  std::string longTable(40, 'x');
  std::string a = foreignKeyIndexName(longTable, {std::string(30, 'y')});
  EXPECT_EQ(a.size(), 63u) << a;
  EXPECT_EQ(a, foreignKeyIndexName(longTable, {std::string(30, 'y')}));
  EXPECT_NE(a, foreignKeyIndexName(longTable, {std::string(30, 'z')}));
  EXPECT_EQ(a.substr(a.size() - 6), "_fkidx");
  // "é" is two bytes: a cut never leaves half of one.
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";
  std::string b = foreignKeyIndexName(accents, {"c"});
  EXPECT_LE(b.size(), 63u);
  std::string head = b.substr(0, b.find('_'));
  EXPECT_EQ(head.size() % 2, 0u) << b;
}

}  // namespace
}  // namespace pgmorph
