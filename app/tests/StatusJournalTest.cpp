// `pgmorph status` of a pipeline that reads a journal (`source: { journal: DIR }`) without
// source.conninfo: the source is not asked (never a libpq default connection) and that does
// not make the exit code 2; the journal section shows the range kept, size, each consumer with
// how far behind the end it is, and a WARNING (JSON: forced_retention) for a consumer whose
// position is before the journal's start — retention deleted what it had not applied.
// check and verify of such a pipeline say that they need source.conninfo.
// The journal is written here with JournalWriter directly; the target is a real database.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/check/CheckCommand.h"
#include "app/status/StatusCommand.h"
#include "app/verify/VerifyCommand.h"
#include "state/journal/Journal.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

class StatusJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    targetDb_ = test::sharedTarget().createDatabase("sj");
    dir_ = fmt::format("/tmp/pgmorph-status-journal-{}", targetDb_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/reader.yaml";
    std::ofstream(path_) << fmt::format(R"(pipeline: sj
source: {{ journal: "{}/journal" }}
target: {{ conninfo: "{}", state_schema: sj_state }}
ids: {{ namespace: 5b0c4a1e-7d2f-4e3a-8c6b-1f2e3d4c5b6a }}
tables:
  t:
    - target: t
      key: id
      columns:
        v: v
)",
                                        dir_, test::sharedTarget().conninfo(targetDb_));
    JournalOptions options;
    options.dir = dir_ + "/journal";
    JournalWriter writer(options);
    writer.startAt(Lsn(0x1000));
    ASSERT_TRUE(writer.begin(Lsn(0x2000)));
    writer.append(Lsn(0x1800), R"({"action":"B","xid":700})");
    writer.append(Lsn(0x1900), R"({"action":"C","xid":700})");
    writer.commit();
    writer.advance(Lsn(0x3000));
    writer.sync();
    JournalConsumers consumers(options.dir);
    consumers.record("sj", Lsn(0x2000));
    consumers.record("gone", Lsn(0x800));  // before the start: retention passed it
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    test::sharedTarget().dropDatabase(targetDb_);
  }
  std::string targetDb_, dir_, path_;
};

TEST_F(StatusJournalTest, AReaderWithoutSourceShowsTheJournalAndItsConsumers) {
  std::ostringstream text;
  ASSERT_EQ(StatusCommand::run(path_, false, text), 0) << text.str();
  const std::string out = text.str();
  for (const std::string& what :
       {std::string("not asked: source.conninfo is not set"),
        std::string("(this pipeline reads it)"),
        std::string("transactions committing after 0/1000 up to 0/3000"),
        std::string("applied 0/2000, 4096 bytes behind the end"),
        std::string("retention deleted changes consumer 'gone' had not applied")})
    EXPECT_NE(out.find(what), std::string::npos) << "missing: " << what << "\n" << out;

  std::ostringstream json;
  ASSERT_EQ(StatusCommand::run(path_, true, json), 0) << json.str();
  rapidjson::Document doc;
  doc.Parse(json.str().c_str());
  ASSERT_FALSE(doc.HasParseError()) << json.str();
  EXPECT_STREQ(doc["status"].GetString(), "ok");
  EXPECT_FALSE(doc["source"]["reachable"].GetBool());
  const auto& j = doc["journal"];
  ASSERT_TRUE(j.IsObject()) << json.str();
  EXPECT_STREQ(j["role"].GetString(), "reads");
  EXPECT_STREQ(j["start_lsn"].GetString(), "0/1000");
  EXPECT_STREQ(j["end_lsn"].GetString(), "0/3000");
  ASSERT_EQ(j["consumers"].Size(), 2u) << json.str();
  ASSERT_EQ(j["forced_retention"].Size(), 1u) << json.str();
  EXPECT_STREQ(j["forced_retention"][0].GetString(), "gone");
}

// check and verify need the source: without source.conninfo they say so (exit 2) rather than
// let libpq connect to a local default server.
TEST_F(StatusJournalTest, CommandsThatNeedTheSourceSaySoWithoutIt) {
  std::ostringstream check;
  EXPECT_EQ(CheckCommand::run(path_, false, check), 2);
  EXPECT_NE(check.str().find("pgmorph check needs the source database"), std::string::npos)
      << check.str();
  std::ostringstream verify;
  EXPECT_EQ(VerifyCommand::run(path_, VerifyOptions{}, verify), 2);
  EXPECT_NE(verify.str().find("pgmorph verify needs the source database"), std::string::npos)
      << verify.str();
}

}  // namespace
}  // namespace pgmorph
