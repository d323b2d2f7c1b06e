// The snapshot's summary names the rows it parked, per target table and reason, and the log
// warns once per table when it first parks a row — on a small dirty schema of its own:
// st_child has two orphans (missing parent) and a row the target's CHECK refuses.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "app/ConfigFile.h"
#include "app/snapshot/SnapshotCommand.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

constexpr const char* kSourceSql = R"sql(
CREATE TABLE sp_parent (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE sp_child (id integer PRIMARY KEY, parent_id integer, note text);
INSERT INTO sp_parent VALUES (1, 'one'), (2, 'two');
INSERT INTO sp_child VALUES (10, 1, 'fine'), (11, 98, 'orphan'), (12, 99, 'orphan too'),
                            (13, 2, 'bad'), (14, 2, 'fine too');
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE parents (id uuid PRIMARY KEY, name text NOT NULL, legacy_id integer);
CREATE TABLE children (id uuid PRIMARY KEY, parent_id uuid REFERENCES parents (id),
                       note text CONSTRAINT children_note_check CHECK (note <> 'bad'));
CREATE INDEX ON children (parent_id);
)sql";

class SnapshotParkedSummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = test::sharedSource().createDatabase("sp");
    targetDb_ = test::sharedTarget().createDatabase("sp");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    path_ = fmt::format("/tmp/pgmorph-parked-summary-{}.yaml", sourceDb_);
    std::ofstream(path_) << fmt::format(R"(pipeline: sp
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: sp_state }}
ids: {{ namespace: 5b0c4a1e-7d2f-4e3a-8c6b-1f2e3d4c5b6a }}
tables:
  sp_parent:
    - target: parents
      key: id
      legacy_id: legacy_id
      columns:
        name: name
  sp_child:
    - target: children
      key: id
      columns:
        parent_id: {{ to: parent_id, ref: sp_parent }}
        note: note
)",
                                        test::sharedSource().conninfo(sourceDb_), slot_,
                                        test::sharedTarget().conninfo(targetDb_));
    // The log as the operator reads it.
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    spdlog::default_logger()->sinks().push_back(sink_);
  }

  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    std::remove(path_.c_str());
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  std::string sourceDb_, targetDb_, slot_, path_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST_F(SnapshotParkedSummaryTest, TheSummaryNamesParkedRowsPerTableAndReason) {
  PipelineConfig config = loadConfigFile(path_);
  SnapshotOptions options;
  options.jobs = 2;
  options.progressInterval = std::chrono::seconds(1);
  ASSERT_EQ(SnapshotCommand(config).snapshot(options), 0) << log_.str();
  std::string log = log_.str();
  EXPECT_NE(log.find("parked: 3 rows of pipeline 'sp' are not on the target"), std::string::npos)
      << log;
  EXPECT_NE(log.find("  public.children 3 (missing_parent 2, refused 1)"), std::string::npos)
      << log;
  // Once per table, not per row.
  auto first = log.find("public.children parks rows");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("public.children parks rows", first + 1), std::string::npos) << log;
  // The refused row's reason names the constraint, never the row's values.
  std::string reason = test::sharedTarget().scalar(
      targetDb_, "SELECT reason FROM sp_state.parked WHERE kind = 'refused'");
  EXPECT_NE(reason.find("children_note_check"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("bad"), std::string::npos) << reason;
}

}  // namespace
}  // namespace pgmorph
