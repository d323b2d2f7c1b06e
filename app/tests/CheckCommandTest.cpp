// `pgmorph check` against real clusters (the shared source and target, a fresh database on
// each per test), on a small schema of its own: shop_* legacy tables mapped onto customers,
// orders, notes, logs, and teams/members whose foreign keys form a cycle. The broken variant
// holds several problems at once — a missing source column, a missing target column, a NOT NULL
// target column that nothing feeds, a ref into a text column, a source table without a primary
// key (REPLICA IDENTITY DEFAULT) — next to the advice every variant gets (the cycle, an unindexed
// foreign key): check must name every one with its file:line. Also: a clean setup exits 0 with
// the plan, an unreachable target exits 2 without printing the password, --json parses, and
// follow refuses the broken setup without creating anything.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "app/ConfigFile.h"
#include "app/check/CheckCommand.h"
#include "app/follow/FollowCommand.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

constexpr const char* kSourceSql = R"sql(
CREATE TABLE shop_customer (id integer PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE shop_order (id integer PRIMARY KEY, customer_id integer, item text, qty integer);
CREATE TABLE shop_note (id integer PRIMARY KEY, order_id integer, body text);
CREATE TABLE shop_team (id integer PRIMARY KEY, name text, captain_id integer);
CREATE TABLE shop_member (id integer PRIMARY KEY, team_id integer, name text);
CREATE TABLE shop_log (id integer CONSTRAINT shop_log_pkey PRIMARY KEY, message text);
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE customers (id uuid PRIMARY KEY, name text NOT NULL, email text,
                        legacy_customer_id integer UNIQUE);
CREATE TABLE orders (id uuid PRIMARY KEY, customer_id uuid NOT NULL REFERENCES customers (id),
                     item text NOT NULL, qty integer, legacy_order_id integer);
CREATE TABLE notes (id uuid PRIMARY KEY, order_ref uuid, body text);
CREATE TABLE teams (id uuid PRIMARY KEY, name text, captain_id uuid);
CREATE TABLE members (id uuid PRIMARY KEY, team_id uuid, name text);
CREATE INDEX ON members (team_id);
CREATE INDEX ON teams (captain_id);
ALTER TABLE members ADD CONSTRAINT members_team_fk FOREIGN KEY (team_id) REFERENCES teams (id)
  DEFERRABLE;
ALTER TABLE teams ADD CONSTRAINT teams_captain_fk FOREIGN KEY (captain_id)
  REFERENCES members (id);
CREATE TABLE logs (id uuid PRIMARY KEY, message text, level text NOT NULL);
)sql";

// What the broken variant changes on each side.
constexpr const char* kBreakSource = "ALTER TABLE shop_log DROP CONSTRAINT shop_log_pkey;";
constexpr const char* kBreakTarget = "ALTER TABLE notes ALTER COLUMN order_ref TYPE text;";

std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot, bool broken) {
  return fmt::format(R"(pipeline: chk
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: chk_state }}
ids: {{ namespace: 0e7f6a52-3b1d-4c8e-9f2a-6d5c4b3a2910 }}
tables:
  shop_customer:
    - target: customers
      key: id
      legacy_id: legacy_customer_id
      columns:
        name: name
        {}: email
  shop_order:
    - target: orders
      key: id
      legacy_id: legacy_order_id
      columns:
        customer_id: {{ to: customer_id, ref: shop_customer }}
        {}
        qty: {}
  shop_note:
    - target: notes
      key: id
      columns:
        order_id: {{ to: order_ref, ref: shop_order }}
        body: body
  shop_team:
    - target: teams
      key: id
      columns:
        name: name
        captain_id: {{ to: captain_id, ref: shop_member }}
  shop_member:
    - target: members
      key: id
      columns:
        team_id: {{ to: team_id, ref: shop_team }}
        name: name
  shop_log:
    - target: logs
      key: id
      columns:
        message: message
      set:
        - {{ to: level, value: info }}
)",
                     source, slot, target, broken ? "phone" : "email", broken ? "" : "item: item",
                     broken ? "quantity" : "qty");
}

// 1-based line of the first line of `text` containing `needle`.
int lineOf(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(needle) != std::string::npos) return n;
  ADD_FAILURE() << "no line with " << needle;
  return 0;
}

class CheckCommandTest : public ::testing::Test {
 protected:
  void setUp(bool broken) {
    sourceDb_ = test::sharedSource().createDatabase("chk");
    targetDb_ = test::sharedTarget().createDatabase("chk");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    if (broken) {
      test::sharedSource().psql(sourceDb_, kBreakSource);
      test::sharedTarget().psql(targetDb_, kBreakTarget);
    }
    writeMapping(mappingYaml(test::sharedSource().conninfo(sourceDb_),
                             test::sharedTarget().conninfo(targetDb_), slot_, broken));
  }

  void writeMapping(const std::string& yaml) {
    yaml_ = yaml;
    path_ = fmt::format("/tmp/pgmorph-check-{}.yaml", sourceDb_);
    std::ofstream(path_) << yaml_;
  }

  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
    if (!sourceDb_.empty()) {
      test::sharedSource().dropReplicationSlot(slot_);
      test::sharedSource().dropDatabase(sourceDb_);
    }
    if (!targetDb_.empty()) test::sharedTarget().dropDatabase(targetDb_);
  }

  int check(std::string& out, bool json = false) {
    std::ostringstream s;
    int code = CheckCommand::run(path_, json, s);
    out = s.str();
    return code;
  }

  // "<file>:<line>: " of the mapping line containing `needle`.
  std::string at(const std::string& needle) {
    return fmt::format("{}:{}: ", path_, lineOf(yaml_, needle));
  }

  std::string sourceDb_, targetDb_, slot_, path_, yaml_;
};

void expectHas(const std::string& report, const std::string& what) {
  EXPECT_NE(report.find(what), std::string::npos) << "missing: " << what << "\n" << report;
}

TEST_F(CheckCommandTest, BrokenSetupListsEveryProblemWithItsLine) {
  setUp(true);
  std::string out;
  EXPECT_EQ(check(out), 1) << out;
  // Every problem, in one run, each with the line of its mapping entry.
  expectHas(out, at("phone: email") +
                     "column phone: the mapped column does not exist in the "
                     "source table");
  expectHas(out, at("qty: quantity") + "column quantity: the target column does not exist");
  expectHas(out, at("- target: orders") + "column item: is NOT NULL without a default");
  expectHas(out, at("to: order_ref, ref: shop_order") +
                     "column order_ref: receives a mapped UUID (an id or a ref:), but its type "
                     "is text");
  expectHas(out, at("shop_log:") +
                     "has no primary key and REPLICA IDENTITY DEFAULT: wal2json "
                     "silently drops its updates and deletes");
  expectHas(out, "ALTER TABLE shop_log REPLICA IDENTITY FULL");
  // The cycle, with its constraints and whether each is deferrable (a warning: exit 1 comes
  // from the errors above).
  expectHas(out, "members_team_fk on public.members (deferrable)");
  expectHas(out, "teams_captain_fk on public.teams (not deferrable)");
  expectHas(out, "ALTER TABLE teams ALTER CONSTRAINT \"teams_captain_fk\" DEFERRABLE");
  // The advice: the unindexed foreign key, with its CREATE INDEX.
  expectHas(out, "warning " + at("- target: orders") + "foreign key orders_customer_id_fkey");
  expectHas(out, "CREATE INDEX ON orders (customer_id)");
  expectHas(out, "5 errors, 2 warnings");
}

TEST_F(CheckCommandTest, CleanSetupExitsZeroWithThePlan) {
  setUp(false);
  std::string out;
  EXPECT_EQ(check(out), 0) << out;
  expectHas(out, "0 errors, 2 warnings — nothing blocks");
  expectHas(out, "target tables, parents first");
  expectHas(out, "1. public.customers");
  expectHas(out, "public.shop_order (" + path_ + ":" +
                     std::to_string(lineOf(yaml_, "shop_order:")) + ") → public.orders");
  expectHas(out, "slot " + slot_ + ": does not exist yet");
  expectHas(out, "the state schema chk_state does not exist yet");
}

TEST_F(CheckCommandTest, JsonHasTheFindings) {
  setUp(true);
  std::string out;
  EXPECT_EQ(check(out, true), 1) << out;
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << out;
  EXPECT_STREQ(doc["status"].GetString(), "problems");
  EXPECT_EQ(doc["counts"]["error"].GetInt(), 5);
  EXPECT_EQ(doc["counts"]["warning"].GetInt(), 2);
  bool refText = false, unindexed = false;
  for (const auto& f : doc["findings"].GetArray()) {
    std::string table = f["table"].GetString(), column = f["column"].GetString();
    if (table == "public.notes" && column == "order_ref") {
      refText = true;
      EXPECT_STREQ(f["severity"].GetString(), "error");
      EXPECT_STREQ(f["side"].GetString(), "target");
      EXPECT_EQ(f["line"].GetInt(), lineOf(yaml_, "to: order_ref, ref: shop_order"));
    }
    if (table == "public.orders" &&
        std::string(f["action"].GetString()).find("CREATE INDEX") != std::string::npos) {
      unindexed = true;
      EXPECT_STREQ(f["severity"].GetString(), "warning");
    }
  }
  EXPECT_TRUE(refText && unindexed) << out;
  ASSERT_EQ(doc["plan"]["cycles"].Size(), 1u);
  EXPECT_FALSE(doc["plan"]["cycles"][0]["deferrable"].GetBool());
  EXPECT_FALSE(doc["plan"]["slot"]["exists"].GetBool());
}

TEST_F(CheckCommandTest, UnreachableTargetIsExitTwoWithoutThePassword) {
  setUp(false);
  writeMapping(mappingYaml(test::sharedSource().conninfo(sourceDb_),
                           fmt::format("host=127.0.0.1 port={} dbname=nowhere user=postgres "
                                       "password=s3cretpw connect_timeout=5",
                                       test::freePort()),
                           slot_, false));
  std::string out;
  EXPECT_EQ(check(out), 2) << out;
  expectHas(out, "could not check");
  EXPECT_EQ(out.find("s3cretpw"), std::string::npos) << out;
  EXPECT_EQ(check(out, true), 2) << out;
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << out;
  EXPECT_STREQ(doc["status"].GetString(), "unchecked");
}

TEST_F(CheckCommandTest, RetainedWalAboveTheLimitIsAWarning) {
  setUp(false);
  test::sharedSource().psql(
      sourceDb_,
      fmt::format("SELECT 'x' FROM pg_create_logical_replication_slot('{}', 'wal2json')", slot_));
  test::sharedSource().psql(sourceDb_, "SELECT pg_logical_emit_message(false, 'x', 'y')");
  writeMapping(mappingYaml(test::sharedSource().conninfo(sourceDb_),
                           test::sharedTarget().conninfo(targetDb_), slot_, false) +
               "slot:\n  max_retained_wal: 1\n");
  std::string out;
  check(out);
  expectHas(out, "more than slot.max_retained_wal (1 bytes)");
}

TEST_F(CheckCommandTest, UnreadableFileIsExitTwo) {
  path_ = "/nonexistent/pgmorph-check.yaml";
  std::string out;
  EXPECT_EQ(check(out), 2) << out;
  path_.clear();
}

TEST_F(CheckCommandTest, FollowRefusesTheBrokenSetupAndCreatesNothing) {
  setUp(true);
  PipelineConfig config = loadConfigFile(path_);
  FollowOptions options;
  options.progressInterval = std::chrono::seconds(1);
  EXPECT_EQ(FollowCommand(config).follow(options, true), 2);
  EXPECT_EQ(test::sharedSource().scalar(
                "postgres", fmt::format("SELECT count(*) FROM pg_replication_slots WHERE "
                                        "slot_name = '{}'",
                                        slot_)),
            "0");
  EXPECT_EQ(test::sharedTarget().scalar(
                targetDb_, "SELECT count(*) FROM pg_namespace WHERE nspname = 'chk_state'"),
            "0");
}

}  // namespace
}  // namespace pgmorph
