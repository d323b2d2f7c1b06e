// BinaryArray and the binary columns of BulkStatements against a real server: an array sent in
// the binary format means exactly what the same values mean as a text array cast on the server
// (a differential check, type by type, with edge values); what the encoder cannot convert
// exactly is refused by add() and, in a multi-row statement, sent as text for that run.
#include "sink/BinaryArray.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

#include "cdc/pg/ArrayLiteral.h"
#include "sink/BulkStatements.h"
#include "sink/tests/SinkFixture.h"

namespace pgmorph {
namespace {

using sinktest::SinkTest;
using sinktest::Val;

class BinaryArrayTest : public SinkTest {
 protected:
  // `SELECT $1::T[]::text` for the array sent binary.
  std::string viaBinary(BinaryArray& array, std::string_view type) {
    std::string sql = fmt::format("SELECT $1::{}[]::text", type);
    std::string_view bytes = array.bytes();
    const char* values[] = {bytes.data()};
    int lengths[] = {static_cast<int>(bytes.size())};
    int formats[] = {1};
    Oid oids[] = {BinaryArray::arrayOid(array.type())};
    PGresult* r = PQexecParams(conn_->get(), sql.c_str(), 1, oids, values, lengths, formats, 0);
    std::string out = PQresultStatus(r) == PGRES_TUPLES_OK
                          ? PQgetvalue(r, 0, 0)
                          : "error: " + std::string(PQresultErrorMessage(r));
    PQclear(r);
    return out;
  }
  // The same values as a text array cast to T[] by the server (what the text path does).
  std::string viaText(const std::vector<std::optional<std::string>>& values,
                      std::string_view type) {
    ArrayLiteral literal;
    for (const auto& v : values) v ? (void)literal.add(*v) : literal.addNull();
    return value(fmt::format("SELECT $1::text[]::{}[]::text", type), {literal.view()});
  }
  // Both ways for `values` of `type`; every value must convert exactly.
  void same(BinaryType kind, std::string_view type,
            const std::vector<std::optional<std::string>>& values) {
    BinaryArray array;
    array.reset(kind);
    for (const auto& v : values) {
      if (!v) {
        array.addNull();
        continue;
      }
      EXPECT_TRUE(array.add(*v)) << type << " value '" << *v << "' did not convert";
    }
    EXPECT_EQ(viaBinary(array, BinaryArray::sqlElementType(kind, type)), viaText(values, type))
        << type;
  }
};

TEST_F(BinaryArrayTest, EveryBinaryTypeMeansWhatItsTextMeans) {
  same(BinaryType::Uuid, "uuid",
       {"8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b", std::nullopt,
        "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"});
  same(BinaryType::Int2, "smallint", {"0", "-32768", "32767", std::nullopt, " 7 "});
  same(BinaryType::Int4, "integer", {"-2147483648", "2147483647", "+12", "0"});
  same(BinaryType::Int8, "bigint", {"-9223372036854775808", "9223372036854775807", "1"});
  same(BinaryType::Bool, "boolean", {"true", "f", "yes", "OFF", "1", "0", std::nullopt});
  same(BinaryType::Numeric, "numeric",
       {"0", "-12.340", "100.00", "NaN", "Infinity", "-Infinity", "0.000001",
        "123456789012345678901234567890.123456789", "-0.5", std::nullopt});
  same(BinaryType::Date, "date", {"2024-02-29", "1999-12-31", "0044-03-15 BC", "infinity"});
  same(BinaryType::Timestamp, "timestamp without time zone",
       {"2024-01-01 10:00:00", "2024-01-01 10:00:00.123456", "2024-01-01 10:00:00 UTC",
        "1900-06-30 23:59:59.5", "-infinity"});
  same(BinaryType::Timestamptz, "timestamp with time zone",
       {"2024-01-01 10:00:00", "2024-01-01 10:00:00 UTC", "2024-01-01 10:00:00+05:30",
        "2024-07-01 00:00:00.000001 Etc/UTC", "infinity", std::nullopt});
  same(BinaryType::Text, "text",
       {"", "NULL", "a \"quoted\" \\ back, {brace}", "ünïcödé ✓", std::nullopt, " padded "});
  same(BinaryType::Text, "character varying", {"abc", ""});
  same(BinaryType::Jsonb, "jsonb",
       {"{\"a\": [1, 2.50, \"x\"], \"b\": null}", "[]", "\"s\"", "12.0", std::nullopt});
}

TEST_F(BinaryArrayTest, AnEmptyArrayIsAnEmptyArray) {
  BinaryArray array;
  array.reset(BinaryType::Int4);
  EXPECT_EQ(viaBinary(array, "integer"), "{}");
  array.reset(BinaryType::Uuid);
  array.addUuid(Uuid::parse("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b"));
  EXPECT_EQ(viaBinary(array, "uuid"), "{8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b}");
}

TEST_F(BinaryArrayTest, WhatDoesNotConvertExactlyIsRefusedAndLeavesTheArrayAsItWas) {
  BinaryArray array;
  array.reset(BinaryType::Numeric);
  ASSERT_TRUE(array.add("1.5"));
  EXPECT_FALSE(array.add("1e3"));  // the server takes it; the encoder does not guess
  EXPECT_FALSE(array.add("abc"));
  array.reset(BinaryType::Timestamptz);
  EXPECT_FALSE(array.add("2024-01-01 10:00:00 Europe/Berlin"));  // needs the zone database
  array.reset(BinaryType::Text);
  EXPECT_FALSE(array.add(std::string_view("a\0b", 3)));
  array.reset(BinaryType::Int2);
  EXPECT_FALSE(array.add("40000"));
  array.reset(BinaryType::Uuid);
  EXPECT_FALSE(array.add("not-a-uuid"));
  ASSERT_TRUE(array.add("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b"));
  EXPECT_EQ(array.size(), 1u);
  EXPECT_EQ(viaBinary(array, "uuid"), "{8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b}");
}

// A multi-row upsert into a table of many types: the columns whose values convert go binary,
// the others as text arrays, and the rows hold what the text path would have stored.
class BinaryBulkTest : public SinkTest {
 protected:
  void SetUp() override {
    SinkTest::SetUp();
    conn_->exec(
        "CREATE TABLE kinds (id uuid PRIMARY KEY, n numeric(10,2), at timestamptz, v varchar(5),"
        " j jsonb, addr inet, legacy_id integer UNIQUE)");
    source_.sourceTable = "legacy_kinds";
    source_.targets.resize(1);
    source_.targets[0].mode = TargetMode::Upsert;
    plan_.source = &source_;
    plan_.mapping = &source_.targets[0];
    plan_.targetSchema = "public";
    plan_.targetTable = "kinds";
    plan_.idColumn = "id";
    plan_.columns = {"id", "n", "at", "v", "j", "addr", "legacy_id"};
  }
  // Sends `writes` as one multi-row statement, outside any pipeline, and waits for it.
  void send(BulkStatements& bulk, const std::vector<TargetWrite>& writes) {
    std::vector<const TargetWrite*> run;
    for (const auto& w : writes) run.push_back(&w);
    ASSERT_TRUE(bulk.send(run));
    bool ok = true;
    std::string error;
    while (PGresult* r = PQgetResult(conn_->get())) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        ok = false;
        error = PQresultErrorMessage(r);
      }
      PQclear(r);
    }
    ASSERT_TRUE(ok) << error << "\n" << bulk.lastSql();
  }
  TargetWrite kind(std::string key, std::vector<Val> rest) {
    rest.push_back(Val(key));
    return sinktest::upsert(plan_, key, rest);
  }
  TableMapping source_;
  WritePlan plan_;
};

TEST_F(BinaryBulkTest, ColumnsThatConvertGoBinaryTheRestAsTextAndTheRowsAreTheSame) {
  BulkStatements bulk(*conn_);
  bulk.loadTypes(plan_);
  std::vector<TargetWrite> writes = {
      kind("1", {"12.345", "2024-01-01 10:00:00 UTC", "abc", "{\"k\": [1, 2]}", "10.0.0.1"}),
      kind("2", {Val::null(), "2024-01-01 10:00:00+02:00", "", "null", Val::null()}),
      kind("3", {"-0.5", "infinity", "x\"y", "{}", "::1"}),
      kind("4", {"7", "1999-12-31 23:59:59.999999", "\\", "[true]", "192.168.0.0/16"}),
  };
  send(bulk, writes);
  // uuid, numeric, timestamptz, varchar (as text), jsonb and integer are binary; inet is not.
  EXPECT_NE(bulk.lastSql().find("$1::uuid[], $2::numeric[], $3::timestamp with time zone[], "
                                "$4::text[], $5::jsonb[], $6::text[], $7::integer[]"),
            std::string::npos)
      << bulk.lastSql();
  auto rows = [&] {
    return value(
        "SELECT string_agg(concat_ws('|', legacy_id, n, at, v, j, addr), ';' ORDER BY legacy_id)"
        " FROM kinds");
  };
  EXPECT_EQ(rows(),
            "1|12.35|2024-01-01 10:00:00+00|abc|{\"k\": [1, 2]}|10.0.0.1;"
            "2|2024-01-01 08:00:00+00||null;"  // concat_ws leaves NULLs out
            "3|-0.50|infinity|x\"y|{}|::1;"
            "4|7.00|1999-12-31 23:59:59.999999+00|\\|[true]|192.168.0.0/16");

  // A zone name only the server can convert: that column goes as text for this run, and the
  // server converts it as the one-row statement would.
  std::vector<TargetWrite> later = {
      kind("1", {"1", "2024-01-01 10:00:00 America/New_York", "a", "1", Val::null()}),
      kind("2", {"2", "2024-01-01 10:00:00 UTC", "b", "2", Val::null()}),
      kind("3", {"3e2", "2024-01-01 10:00:00 UTC", "c", "3", Val::null()}),
      kind("4", {"4", "2024-01-01 10:00:00 UTC", "d", "4", Val::null()}),
  };
  send(bulk, later);
  EXPECT_NE(bulk.lastSql().find("$1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]"),
            std::string::npos)
      << bulk.lastSql();
  EXPECT_EQ(rows(),
            "1|1.00|2024-01-01 15:00:00+00|a|1;"
            "2|2.00|2024-01-01 10:00:00+00|b|2;"
            "3|300.00|2024-01-01 10:00:00+00|c|3;"
            "4|4.00|2024-01-01 10:00:00+00|d|4");
}

TEST_F(BinaryBulkTest, TheColumnsTypmodStillJudgesABinaryValue) {
  BulkStatements bulk(*conn_);
  bulk.loadTypes(plan_);
  std::vector<TargetWrite> writes;
  for (const char* key : {"1", "2", "3", "4"})
    writes.push_back(kind(key, {std::string(key == std::string("3") ? "123456789.5" : "1"),
                                Val::null(), "v", Val::null(), Val::null()}));
  std::vector<const TargetWrite*> run;
  for (const auto& w : writes) run.push_back(&w);
  ASSERT_TRUE(bulk.send(run));
  std::string sqlstate;
  while (PGresult* r = PQgetResult(conn_->get())) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) sqlstate = s;
    PQclear(r);
  }
  EXPECT_EQ(sqlstate, "22003") << "numeric(10,2) must refuse 123456789.5 sent binary";
  EXPECT_EQ(value("SELECT count(*) FROM kinds"), "0");
}

}  // namespace
}  // namespace pgmorph
