// End to end: `pgmorph verify` while changes keep flowing. A pgbench writer updates, inserts
// and deletes rows of a small schema of its own on the source while `pgmorph follow` (its own
// process) applies them; verify, run five times in a row meanwhile, must pin both sides to one LSN
// (the follower holds at it for the moment verify takes its target snapshot) and report the
// target equal every time: no false difference. The follower's pause is read from the JSON
// report and must be short. Then, with the writer and the follower stopped, a change made on
// the target behind pgmorph's back (a stray row) must be found — so the equal results above are not a test
// that cannot fail.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/Poll.h"
#include "tests/support/PgCluster.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSourceSql = R"sql(
CREATE TABLE inv_item (sku integer PRIMARY KEY, label text NOT NULL, qty integer,
                       attrs text, touched timestamp);
CREATE TABLE inv_move (id bigserial PRIMARY KEY, sku integer, delta integer,
                       note text, at timestamp DEFAULT now());
INSERT INTO inv_item SELECT g, 'item ' || g, g % 17, '{"bin": ' || g || '}', now()
  FROM generate_series(1, 500) g;
INSERT INTO inv_move (sku, delta, note) SELECT 1 + g % 500, g % 9 - 4, 'initial'
  FROM generate_series(1, 2000) g;
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE items (id uuid PRIMARY KEY, label text NOT NULL, qty integer, attrs jsonb,
                    touched timestamptz, sku integer);
CREATE TABLE moves (id uuid PRIMARY KEY, item_id uuid REFERENCES items (id), delta integer,
                    note text, at timestamptz);
CREATE INDEX ON moves (item_id);
)sql";

// Each transaction touches both tables, so a verify that saw the two sides at different
// positions would find a difference.
constexpr const char* kWorkload = R"(\set sku random(1, 500)
\set d random(-5, 5)
BEGIN;
UPDATE inv_item SET qty = qty + :d, touched = now(), attrs = '{"bin": ' || :sku || ', "d": ' || :d || '}' WHERE sku = :sku;
INSERT INTO inv_move (sku, delta, note) VALUES (:sku, :d, 'moved');
DELETE FROM inv_move WHERE id = (SELECT min(id) FROM inv_move WHERE sku = :sku);
END;
)";

std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot) {
  return fmt::format(R"(pipeline: inv
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: inv_state }}
ids: {{ namespace: 7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d }}
apply: {{ status_interval_ms: 200 }}
tables:
  inv_item:
    - target: items
      key: sku
      legacy_id: sku
      columns:
        label: label
        qty: qty
        attrs: {{ to: attrs, type: jsonb }}
        touched: {{ to: touched, type: timestamptz }}
  inv_move:
    - target: moves
      key: id
      columns:
        sku: {{ to: item_id, ref: inv_item }}
        delta: delta
        note: note
        at: {{ to: at, type: timestamptz }}
)",
                     source, slot, target);
}

class VerifyUnderLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = test::sharedSource().createDatabase("vl");
    targetDb_ = test::sharedTarget().createDatabase("vl");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    base_ = fmt::format("/tmp/pgmorph-verify-load-{}", sourceDb_);
    std::ofstream(base_ + ".yaml") << mappingYaml(test::sharedSource().conninfo(sourceDb_),
                                                  test::sharedTarget().conninfo(targetDb_), slot_);
    std::ofstream(base_ + ".pgbench") << kWorkload;
  }

  void TearDown() override {
    children_.clear();  // kills what is still running
    for (const char* ext : {".yaml", ".pgbench"}) std::remove((base_ + ext).c_str());
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  e2e::ChildProcess& spawn(std::vector<std::string> argv, const std::string& name) {
    children_.push_back(std::make_unique<e2e::ChildProcess>(
        std::move(argv), fmt::format("{}.{}.{}", base_, name, children_.size())));
    return *children_.back();
  }

  e2e::ChildProcess& pgmorph(const std::string& command, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{PGMORPH_BINARY, command, "-c", base_ + ".yaml"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return spawn(std::move(argv), command);
  }

  int finish(e2e::ChildProcess& child, std::chrono::seconds timeout = 120s) {
    auto status = child.waitFor(timeout);
    if (!status) child.kill9();
    EXPECT_TRUE(status) << child.commandLine() << " did not end in time\n" << child.stderrText();
    return status.value_or(-1);
  }

  // One `pgmorph verify --json` run: its exit status and report.
  int verify(rapidjson::Document& doc, std::string& text) {
    auto& v = pgmorph("verify", {"--json", "--max-differences", "5"});
    int code = finish(v);
    text = v.stdoutText();
    doc.Parse(text.c_str());
    EXPECT_FALSE(doc.HasParseError()) << text << v.stderrText();
    return code;
  }

  std::string sourceDb_, targetDb_, slot_, base_;
  std::vector<std::unique_ptr<e2e::ChildProcess>> children_;
};

TEST_F(VerifyUnderLoadTest, NoFalseDifferenceWhileAFollowerAppliesAPgbenchWriter) {
  ASSERT_EQ(finish(pgmorph("snapshot")), 0);
  auto& follow = pgmorph("follow");
  // The follower is streaming once the slot is active.
  ASSERT_TRUE(e2e::pollUntil(60s, [&] {
    return test::sharedSource().scalar(
               "postgres", fmt::format("SELECT count(*) FROM pg_replication_slots WHERE "
                                       "slot_name = '{}' AND active",
                                       slot_)) == "1";
  })) << follow.stderrText();
  auto& writer = spawn({test::pgBin("pgbench"), "-n", "-c", "2", "-T", "25", "-R", "300", "-f",
                        base_ + ".pgbench", test::sharedSource().conninfo(sourceDb_)},
                       "pgbench");

  std::vector<double> pauses;
  for (int run = 0; run < 5; ++run) {
    rapidjson::Document doc;
    std::string text;
    int code = verify(doc, text);
    ASSERT_EQ(code, 0) << "verify run " << run << " found a difference under load:\n" << text;
    EXPECT_STREQ(doc["pinned_by"].GetString(), "follower paused") << text;
    ASSERT_TRUE(doc["pause_ms"].IsNumber()) << text;
    pauses.push_back(doc["pause_ms"].GetDouble());
    for (const auto& t : doc["tables"].GetArray()) EXPECT_GT(t["expected_rows"].GetUint64(), 0u);
  }
  ASSERT_TRUE(writer.running()) << "the writer ended before the verify runs did: no load";
  ASSERT_EQ(finish(writer), 0) << writer.stderrText();
  std::string moved =
      test::sharedSource().scalar(sourceDb_, "SELECT count(*) FROM inv_move WHERE note = 'moved'");
  EXPECT_GT(std::stoi(moved), 100) << "the writer barely wrote";
  for (double p : pauses) {
    EXPECT_LT(p, 5000) << "the follower was held for " << p << " ms";
    std::printf("[ verify ] follower pause %.1f ms\n", p);
  }
  ASSERT_TRUE(follow.running()) << follow.stderrText();
  EXPECT_NE(follow.stderrText().find("verify pause over (released)"), std::string::npos)
      << follow.stderrText();

  // Stopped pipeline, one change behind pgmorph's back: found.
  follow.signal(SIGINT);
  ASSERT_EQ(finish(follow), 0) << follow.stderrText();
  // A stray row, which no change still in the stream can touch (a changed column of an existing
  // row could be written again by the apply up to verify's LSN: the follower may have stopped
  // behind the writer).
  test::sharedTarget().psql(targetDb_,
                            "INSERT INTO items (id, label, sku) VALUES "
                            "('00000000-0000-4000-8000-0000000000aa', 'stray', 99999)");
  rapidjson::Document doc;
  std::string text;
  ASSERT_EQ(verify(doc, text), 1) << text;
  EXPECT_STREQ(doc["pinned_by"].GetString(), "applied by verify");
  EXPECT_EQ(doc["tables"][0]["extra"].GetUint64(), 1u) << text;
}

}  // namespace
}  // namespace pgmorph
