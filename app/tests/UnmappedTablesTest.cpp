// Changes of source tables the mapping does not name, through the real binary on the shared
// clusters (a fresh database on each side per test, a schema of its own):
//  - a misspelled source table (um_paymnt for um_payment) in a pipeline that has been running:
//    follow refuses to start (exit 2, the table and its file:line named, the checkpoint left
//    where it was), and once the file is fixed every change made in between arrives;
//  - a table neither mapped nor in ignore: is a warning once, with its count, and `pgmorph
//    status` shows the count stored across runs; a table in ignore: says nothing;
//  - a second follow of the same pipeline says another pgmorph holds the slot, with the
//    walsender's PID.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "app/tests/BinaryRun.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

using test::BinaryRun;

constexpr const char* kSourceSql = R"sql(
CREATE TABLE um_order (id integer PRIMARY KEY, item text);
CREATE TABLE um_payment (id integer PRIMARY KEY, amount integer);
CREATE TABLE um_audit (id integer PRIMARY KEY, note text);
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE orders (id uuid PRIMARY KEY, item text);
CREATE TABLE payments (id uuid PRIMARY KEY, amount integer);
)sql";

// `payment`: the source table name written for payments; "" leaves payments unmapped.
std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot, const std::string& payment,
                        const std::string& extra = "") {
  std::string payments = payment.empty()
                             ? ""
                             : fmt::format(
                                   "  {}:\n    - target: payments\n      key: id\n      columns:\n"
                                   "        amount: amount\n",
                                   payment);
  return fmt::format(R"(pipeline: um
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: um_state }}
ids: {{ namespace: 3c1e9a7b-5d2f-4e8a-9b6c-1f0e2d3c4b5a }}
tables:
  um_order:
    - target: orders
      key: id
      columns:
        item: item
{}{})",
                     source, slot, target, payments, extra);
}

class UnmappedTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = test::sharedSource().createDatabase("um");
    targetDb_ = test::sharedTarget().createDatabase("um");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    path_ = fmt::format("/tmp/pgmorph-um-{}.yaml", sourceDb_);
    base_ = fmt::format("/tmp/pgmorph-um-{}", sourceDb_);
  }
  void TearDown() override {
    std::remove(path_.c_str());
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  void writeMapping(const std::string& payment, const std::string& extra = "") {
    yaml_ = mappingYaml(test::sharedSource().conninfo(sourceDb_),
                        test::sharedTarget().conninfo(targetDb_), slot_, payment, extra);
    std::ofstream(path_) << yaml_;
  }
  int lineOf(const std::string& needle) const {
    auto pos = yaml_.find(needle);
    EXPECT_NE(pos, std::string::npos) << needle;
    return 1 + static_cast<int>(std::count(yaml_.begin(), yaml_.begin() + pos, '\n'));
  }
  // `pgmorph <command> -c FILE --until-caught-up`: exit code; its stderr to `err`.
  int untilCaughtUp(const std::string& command, std::string& err) {
    return BinaryRun::run({command, "-c", path_, "--until-caught-up", "--progress-interval", "1"},
                          base_, nullptr, &err);
  }
  void source(const std::string& sql) { test::sharedSource().psql(sourceDb_, sql); }
  std::string target(const std::string& sql) { return test::sharedTarget().scalar(targetDb_, sql); }
  std::string checkpoint() {
    return target("SELECT lsn::text FROM um_state.checkpoint WHERE pipeline = 'um'");
  }

  std::string sourceDb_, targetDb_, slot_, path_, base_, yaml_;
};

void expectHas(const std::string& text, const std::string& what) {
  EXPECT_NE(text.find(what), std::string::npos) << "missing: " << what << "\n" << text;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The issue's story: a typo in a running pipeline's file used to start, count the real table's
// changes as unmapped and move the checkpoint past them — lost for good after the fix.
TEST_F(UnmappedTablesTest, ATypoRefusesToStartAndNothingIsLostAfterTheFix) {
  writeMapping("um_payment");
  std::string err;
  ASSERT_EQ(untilCaughtUp("run", err), 0) << err;
  source("INSERT INTO um_order VALUES (1, 'a'); INSERT INTO um_payment VALUES (1, 10);");
  ASSERT_EQ(untilCaughtUp("follow", err), 0) << err;
  ASSERT_EQ(target("SELECT count(*) FROM payments"), "1");

  writeMapping("um_paymnt");
  source(
      "INSERT INTO um_payment SELECT g, g * 10 FROM generate_series(2, 6) g;"
      "UPDATE um_payment SET amount = 11 WHERE id = 1;"
      "INSERT INTO um_order VALUES (2, 'b');");
  std::string before = checkpoint();
  EXPECT_EQ(untilCaughtUp("follow", err), 2) << err;
  expectHas(err, fmt::format("{}:{}", path_, lineOf("um_paymnt:")));
  expectHas(err, "um_paymnt");
  EXPECT_EQ(checkpoint(), before) << "the refused start moved the checkpoint";
  EXPECT_EQ(target("SELECT count(*) FROM orders"), "1");

  writeMapping("um_payment");
  ASSERT_EQ(untilCaughtUp("follow", err), 0) << err;
  EXPECT_EQ(target("SELECT count(*) FROM payments"), "6");
  EXPECT_EQ(target("SELECT sum(amount) FROM payments"), "211");
  EXPECT_EQ(target("SELECT count(*) FROM orders"), "2");
}

TEST_F(UnmappedTablesTest, ATableNeitherMappedNorIgnoredIsAWarningAndACountInStatus) {
  writeMapping("", "ignore: [um_audit]\n");
  std::string err;
  ASSERT_EQ(untilCaughtUp("run", err), 0) << err;
  source(
      "INSERT INTO um_payment SELECT g, g FROM generate_series(1, 3) g;"
      "INSERT INTO um_audit VALUES (1, 'x'), (2, 'y');"
      "INSERT INTO um_order VALUES (1, 'a');");
  ASSERT_EQ(untilCaughtUp("follow", err), 0) << err;
  const std::string warning =
      "source table public.um_payment has changes but is neither mapped nor in ignore:";
  EXPECT_EQ(occurrences(err, warning), 1u) << err;
  expectHas(err, "1 change so far");
  EXPECT_EQ(err.find("um_audit has changes"), std::string::npos) << err;
  EXPECT_EQ(target("SELECT count(*) FROM orders"), "1");

  // A second run adds to the stored count; status shows it, in text and JSON.
  source("UPDATE um_payment SET amount = 0; INSERT INTO um_audit VALUES (3, 'z');");
  ASSERT_EQ(untilCaughtUp("follow", err), 0) << err;
  EXPECT_EQ(occurrences(err, warning), 1u) << err;
  std::string out;
  EXPECT_EQ(BinaryRun::run({"status", "-c", path_}, base_, &out, nullptr), 0) << out;
  expectHas(out, "unmapped changes (skipped: neither mapped nor in ignore:)");
  expectHas(out, "6 (map these tables or list them in ignore:)");
  expectHas(out, "public.um_payment");
  EXPECT_EQ(out.find("um_audit"), std::string::npos) << out;
  EXPECT_EQ(BinaryRun::run({"status", "-c", path_, "--json"}, base_, &out, nullptr), 0) << out;
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << out;
  const auto& u = doc["unmapped_changes"];
  EXPECT_EQ(u["total"].GetUint64(), 6u);
  ASSERT_EQ(u["by_table"].Size(), 1u);
  EXPECT_STREQ(u["by_table"][0]["table"].GetString(), "public.um_payment");
  EXPECT_EQ(u["by_table"][0]["changes"].GetUint64(), 6u);
}

// Two follows of one pipeline: the second says who holds the slot (not PostgreSQL's raw "slot
// is active for PID N"), and keeps waiting for it.
TEST_F(UnmappedTablesTest, ASecondFollowSaysAnotherPgmorphHoldsTheSlot) {
  writeMapping("um_payment");
  std::string err;
  ASSERT_EQ(untilCaughtUp("run", err), 0) << err;
  BinaryRun first({"follow", "-c", path_}, base_ + "-first");
  std::string pid;
  for (int i = 0; i < 300 && (pid.empty() || pid == "0"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pid = test::sharedSource().scalar(
        "postgres", fmt::format("SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots "
                                "WHERE slot_name = '{}' AND active",
                                slot_));
  }
  ASSERT_NE(pid, "0") << first.err();
  BinaryRun second({"follow", "-c", path_}, base_ + "-second");
  const std::string expected = fmt::format("another pgmorph (or another consumer");
  for (int i = 0; i < 200 && second.err().find(expected) == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string said = second.err();
  expectHas(said, expected);
  expectHas(said, fmt::format("the walsender serving it on the source has PID {}", pid));
  EXPECT_FALSE(second.wait(std::chrono::milliseconds(0)).has_value())
      << "the second follow gave up:\n"
      << said;
  second.signal(SIGINT);
  first.signal(SIGINT);
  EXPECT_EQ(second.wait(std::chrono::seconds(30)), 0) << second.err();
  EXPECT_EQ(first.wait(std::chrono::seconds(30)), 0) << first.err();
}

}  // namespace
}  // namespace pgmorph
