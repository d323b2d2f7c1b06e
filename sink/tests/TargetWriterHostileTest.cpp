// Hostile identifiers and values round-trip exactly (quoting, parameters only), and a large
// batch goes through one pipeline.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "sink/tests/SinkFixture.h"

namespace pgmorph::sinktest {
namespace {

class TargetWriterHostileTest : public SinkTest {
 protected:
  void SetUp() override {
    SinkTest::SetUp();
    // Quotes, spaces, upper case, a semicolon and a backslash in every kind of name.
    observer_->exec(R"(CREATE SCHEMA "Odd ""Schema""; x")");
    observer_->exec(R"(CREATE TABLE "Odd ""Schema""; x"."Tab le""; DROP TABLE offices;--" ()"
                    R"( "ID ""key""" uuid PRIMARY KEY, "Na me" text, "UPPER" text NOT NULL,)"
                    R"( "back\slash" integer, "Owner's" uuid, "Kind;" text))");
    source_.sourceTable = "Legacy \"Src\"";
    source_.targets.resize(2);
    source_.targets[1].mode = TargetMode::Update;
    full_.source = &source_;
    full_.mapping = &source_.targets[0];
    full_.targetSchema = "Odd \"Schema\"; x";
    full_.targetTable = "Tab le\"; DROP TABLE offices;--";
    full_.idColumn = "ID \"key\"";
    full_.columns = {"ID \"key\"", "Na me", "UPPER", "back\\slash"};
    full_.refTables.assign(4, "");
    partial_ = full_;
    partial_.mapping = &source_.targets[1];
    partial_.columns = {"Owner's", "Kind;"};
    partial_.ownerColumns = {"Owner's", "Kind;"};
    partial_.constantOwners = {{"Kind;", "it's; \"x\""}};
    partial_.refTables.assign(2, "");
  }
  std::string cell(std::string_view column, const Uuid& id) {
    std::string idText = id.str();
    return value(fmt::format("SELECT {} FROM {} WHERE {} = $1", observer_->quoteIdent(column),
                             observer_->quoteQualified(full_.targetSchema, full_.targetTable),
                             observer_->quoteIdent(full_.idColumn)),
                 {idText});
  }
  long rows() {
    return std::stol(
        value(fmt::format("SELECT count(*) FROM {}",
                          observer_->quoteQualified(full_.targetSchema, full_.targetTable))));
  }
  TableMapping source_;
  WritePlan full_, partial_;
};

TEST_F(TargetWriterHostileTest, HostileIdentifiersAndValuesRoundTripExactly) {
  const std::vector<std::string> hostile = {
      "O'Brien \"quoted\"; DROP TABLE offices; --",
      "back\\slash \\x00 \\\\ E'\\n' $1 $$ %s {}",
      "Zürich — 東京 — 😀 — \u00a0 nbsp",
      "line1\nline2\r\n\ttab\x01\x7f",
      "",
      std::string(5000, '\''),
  };
  std::vector<TargetWrite> writes;
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    std::string key = std::to_string(i);
    writes.push_back(upsert(full_, key, {hostile[i], hostile[(i + 1) % hostile.size()], "7"}));
  }
  writes.push_back(upsert(full_, "null", {Val::null(), "x", Val::null()}));
  applyAndCommit(writes);
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    Uuid id = idOf(source_.sourceTable, std::to_string(i));
    EXPECT_EQ(cell("Na me", id), hostile[i]) << i;
    EXPECT_EQ(cell("UPPER", id), hostile[(i + 1) % hostile.size()]) << i;
    EXPECT_EQ(cell("back\\slash", id), "7");
  }
  EXPECT_EQ(cell("Na me", idOf(source_.sourceTable, "null")), "<null>");
  EXPECT_EQ(rows(), static_cast<long>(hostile.size()) + 1);
  EXPECT_EQ(count("offices"), 0);  // still there: nothing was executed as SQL

  // Updates, partial writes, release, truncate and delete on the same names.
  Uuid id0 = idOf(source_.sourceTable, "0"), id1 = idOf(source_.sourceTable, "1");
  std::string owner = idOf("owner", "1").str();
  applyAndCommit({upsert(full_, "0", {hostile[3], Val::absent(), Val::null()}),
                  setColumns(partial_, "1", id0, {owner, "it's; \"x\""}),
                  setColumns(partial_, "1", id1, {owner, "it's; \"x\""}),
                  release(partial_, "1", {owner, "it's; \"x\""}, id1)},
                 Lsn::parse("0/200"));
  EXPECT_EQ(cell("Na me", id0), hostile[3]);
  EXPECT_EQ(cell("UPPER", id0), hostile[1]);  // absent: kept
  EXPECT_EQ(cell("back\\slash", id0), "<null>");
  EXPECT_EQ(cell("Owner's", id0), "<null>");  // released: the order names id1 now
  EXPECT_EQ(cell("Owner's", id1), owner);
  EXPECT_EQ(cell("Kind;", id1), "it's; \"x\"");

  applyAndCommit({truncate(partial_), remove(full_, "2")}, Lsn::parse("0/300"));
  EXPECT_EQ(cell("Owner's", id1), "<null>");
  EXPECT_EQ(cell("Na me", idOf(source_.sourceTable, "2")), "<no row>");
  applyAndCommit({truncate(full_)}, Lsn::parse("0/400"));
  EXPECT_EQ(rows(), 0);
}

TEST_F(TargetWriterHostileTest, TwentyThousandWritesGoThroughOneApply) {
  constexpr int kRows = 20000;
  std::vector<TargetWrite> writes;
  writes.reserve(kRows + kRows / 2);
  for (int i = 0; i < kRows; ++i) {
    std::string key = std::to_string(i);
    writes.push_back(upsert(plans_.offices, key,
                            {key, "Office " + key, Val::null(), "US", "2019-01-01 05:00:00 UTC"}));
  }
  // Then half of them again, updated in the same batch: order within the batch holds.
  for (int i = 0; i < kRows; i += 2) {
    std::string key = std::to_string(i);
    writes.push_back(
        upsert(plans_.offices, key,
               {key, "Updated " + key, Val::absent(), "DE", "2019-01-01 05:00:00 UTC"}));
  }
  writer_->begin();
  auto start = std::chrono::steady_clock::now();
  writer_->applyOrdered(oneByOneInSourceOrder(writes));
  auto applied = std::chrono::steady_clock::now();
  writer_->commit(Lsn::parse("0/900"), 1);
  auto done = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "[ sink     ] " << writes.size()
            << " writes in one applyOrdered(): " << ms(applied - start) << " ms, commit "
            << ms(done - applied) << " ms\n";
  RecordProperty("apply_ms", static_cast<int>(ms(applied - start)));

  EXPECT_EQ(count("offices"), kRows);
  EXPECT_EQ(row("offices", idOf("dispatch_office", "0"), "name, country_code"), "Updated 0|DE");
  EXPECT_EQ(row("offices", idOf("dispatch_office", "19999"), "name, country_code"),
            "Office 19999|US");
  EXPECT_EQ(std::stol(value("SELECT count(*) FROM offices WHERE country_code = 'DE'")), kRows / 2);
  EXPECT_EQ(writer_->rowsWritten(), static_cast<std::uint64_t>(writes.size()));
  EXPECT_EQ(checkpoint()->lsn, Lsn::parse("0/900"));
}

}  // namespace
}  // namespace pgmorph::sinktest
