// CopyBinaryEncoder against a real PostgreSQL 15 target, differentially: the same rows go
// through text COPY into one table and binary COPY into another of the same shape, and the
// two tables must hold exactly the same values (edge values of every binary type, NULLs,
// rounding under a typmod). Also: what stays on text, and values the encoder cannot convert.
#include "sink/CopyBinaryEncoder.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cdc/pg/PgError.h"
#include "sink/CopyWriter.h"
#include "sink/TargetCatalog.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

const Uuid kNamespace = Uuid::parse("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");

constexpr const char* kColumns =
    "(id uuid PRIMARY KEY, legacy_id bigint, c_text text, c_varchar varchar(12),"
    " c_varying character varying, c_int integer, c_small smallint, c_bool boolean,"
    " c_num numeric, c_num122 numeric(12,2), c_date date, c_ts timestamp, c_tstz timestamptz,"
    " c_tstz3 timestamp(3) with time zone, c_jsonb jsonb, c_json json, c_ref uuid, c_char char(4))";

const std::vector<std::string> kPlanColumns = {
    "id",      "legacy_id", "c_text",  "c_varchar", "c_varying", "c_int",
    "c_small", "c_bool",    "c_num",   "c_num122",  "c_date",    "c_ts",
    "c_tstz",  "c_tstz3",   "c_jsonb", "c_json",    "c_ref",     "c_char"};

using Row = std::vector<std::optional<std::string>>;  // values after id and legacy_id

class CopyBinaryEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("copybinary");
    conn_ = std::make_unique<PgConnection>(test::sharedTarget().conninfo(db_), "target");
    conn_->exec(std::string("CREATE TABLE as_text ") + kColumns);
    conn_->exec(std::string("CREATE TABLE as_binary ") + kColumns);
    catalog_ = TargetCatalog::read(*conn_, {"public.as_text", "public.as_binary"});
    source_.sourceTable = "legacy_things";
    mapping_.target = "things";
    for (auto* p : {&text_, &binary_}) {
      p->source = &source_;
      p->mapping = &mapping_;
      p->targetSchema = "public";
      p->idColumn = "id";
      p->columns = kPlanColumns;
    }
    text_.targetTable = "as_text";
    binary_.targetTable = "as_binary";
  }
  void TearDown() override {
    conn_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  TargetWrite write(const WritePlan& plan, int key, const Row& values) {
    TargetWrite w;
    w.op = WriteOp::Upsert;
    w.plan = &plan;
    w.row = uuidV5(kNamespace, std::to_string(key));
    w.setLegacyKey(std::to_string(key));
    w.addValue(w.row.str());
    w.addValue(std::to_string(key));
    for (const auto& v : values) v ? w.addValue(*v) : w.addNull();
    while (w.values().size() < kPlanColumns.size()) w.addNull();
    return w;
  }

  // Copies `rows` into `plan`'s table in one transaction; returns the rows stored.
  std::uint64_t copy(const WritePlan& plan, bool binary, const std::vector<Row>& rows) {
    CopyWriter writer(*conn_, plan, *catalog_.table("public." + plan.targetTable),
                      CopyFormat{binary, true});
    EXPECT_EQ(writer.binary(), binary);
    conn_->exec("BEGIN");
    try {
      writer.begin();
      for (std::size_t i = 0; i < rows.size(); ++i)
        writer.write(write(plan, static_cast<int>(i + 1), rows[i]));
      std::uint64_t n = writer.finish();
      conn_->exec("COMMIT");
      return n;
    } catch (...) {
      writer.abort();
      conn_->exec("ROLLBACK");
      throw;
    }
  }

  std::string count(const std::string& sql) { return std::string(conn_->exec(sql).value(0, 0)); }

  std::string db_;
  std::unique_ptr<PgConnection> conn_;
  TargetCatalog catalog_;
  TableMapping source_;
  TargetMapping mapping_;
  WritePlan text_, binary_;
};

TEST_F(CopyBinaryEncoderTest, BinaryCopyStoresExactlyWhatTextCopyStores) {
  auto n = [](const char* s) { return std::optional<std::string>(s); };
  const std::optional<std::string> null;
  // Columns: text, varchar(12), varying, int, small, bool, num, num(12,2), date, ts, tstz,
  // tstz(3), jsonb, json, ref, char(4).
  std::vector<Row> rows = {
      {n(""), n(""), n(""), n("0"), n("0"), n("f"), n("0"), n("0"), n("2000-01-01"),
       n("2000-01-01 00:00:00"), n("2000-01-01 00:00:00 UTC"), n("2000-01-01 00:00:00+00"), n("{}"),
       n("[]"), n("00000000-0000-0000-0000-000000000000"), n("AB")},
      {n("tab\t, newline\n, cr\r, backslash\\, \\N, ünïcödé 😀"), n("ünïcödé 12"), n("\\.\n\\."),
       n("-2147483648"), n("-32768"), n("true"), n("-0.5"), n("-0.005"), n("1999-12-31"),
       n("1999-12-31 23:59:59.999999"), n("1970-01-01 00:00:00.000001 UTC"),
       n("1969-12-31 23:59:59.9995+00"),
       n(R"({"a": {"b": [1, 2.50, "ü\u00e9\n", null, true]}, "": ""})"),
       n(R"({"x" : 1,   "x": 2})"), n("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b"), n("ü\t  ")},
      {n("x"), n("  padded  "), null, n("2147483647"), n("32767"), n("t"),
       n("12345678901234567890.123456789"), n("1234567890.125"), n("0001-01-01"),
       n("0001-01-01 00:00:00"), n("2019-01-01 05:00:00+05:30"), n("2019-06-30 12:00:00.1234 UTC"),
       n("[1, \"two\", {\"3\": [4]}]"), null, null, n("abcd      ")},
      {null, null, n("x"), n("+42"), n(" 7 "), n("false"), n("NaN"), n("-1234567890.125"),
       n("9999-12-31"), n("2262-04-12 00:00:00"), n("294276-12-31 23:59:59 UTC"),
       n("0044-03-15 12:00:00 BC UTC"), n("\"ünïcödé\""), n("\"\\u0000x\""), null},
      {n("multi\nline"), n("0123456789ab"), n("x"), n("-1"), n("-1"), n("yes"), n("-0"), n("0.004"),
       n("0044-03-15 BC"), n("2000-02-29 24:00:00"), n("infinity"), n("-infinity"), n("null"),
       n("1"), n("8D3E2F4A-1C5B-4E7A-9B1F-3C2D4E5F6A7B"), n("")},
      {n("y"), n("y"), n("y"), n("1"), n("1"), n("off"), n("0.000000000000000000001"),
       n("9999999999.99"), n("infinity"), n("1900-02-28 13:14:15.5"), n("1900-03-01 00:00:00-08"),
       n("1950-06-01 01:02:03.4567 UTC"), n("12.5e3"), n("{\"k\": 1}"), null},
      {n("z"), n("z"), n("z"), n("2"), n("2"), n("0"), n("100000000"), n("-0.5"), n("-infinity"),
       n("1999-12-31 23:59:60"), n("2038-01-19 03:14:08.000001 Etc/UTC"), null, n("false"), null,
       null},
      {n("w"), n("w"), n("w"), n("3"), n("3"), n("1"), n("Infinity"), n("0.125"), n("2024-02-29"),
       n("1999-12-31 23:59:59.5 UTC"), n("1999-12-31 23:59:59.5-00:30"), n("2024-02-29 00:00:00"),
       n("1e400"), null, null},
  };
  EXPECT_EQ(copy(text_, false, rows), rows.size());
  EXPECT_EQ(copy(binary_, true, rows), rows.size());
  EXPECT_EQ(count("SELECT count(*) FROM as_binary"), std::to_string(rows.size()));
  // json has no equality operator: it is compared as its text.
  const std::string all =
      "SELECT id, legacy_id, c_text, c_varchar, c_varying, c_int, c_small, c_bool, c_num, "
      "c_num122, c_date, c_ts, c_tstz, c_tstz3, c_jsonb, c_json::text, c_ref, c_char FROM ";
  EXPECT_EQ(count("SELECT count(*) FROM (" + all + "as_text EXCEPT " + all + "as_binary) d"), "0");
  EXPECT_EQ(count("SELECT count(*) FROM (" + all + "as_binary EXCEPT " + all + "as_text) d"), "0");
  // EXCEPT compares jsonb and numeric by value: the texts must match too (json keeps its text,
  // numeric its scale, timestamps their microseconds).
  EXPECT_EQ(count("SELECT count(*) FROM as_text t JOIN as_binary b USING (id) WHERE "
                  "(t.*)::text IS DISTINCT FROM (b.*)::text"),
            "0");
  // Some values the comparison relies on, so that a no-op on both sides cannot pass.
  auto r = conn_->exec(
      "SELECT c_num::text, c_num122::text, c_tstz::text, c_date::text FROM as_binary "
      "WHERE legacy_id = 3");
  EXPECT_EQ(r.value(0, 0), "12345678901234567890.123456789");
  EXPECT_EQ(r.value(0, 1), "1234567890.13");  // rounded by the typmod, as text input is
  EXPECT_EQ(r.value(0, 2), "2018-12-31 23:30:00+00");
  EXPECT_EQ(r.value(0, 3), "0001-01-01");
}

TEST_F(CopyBinaryEncoderTest, ValuesBeyondTheirTypmodAreRefusedAsInText) {
  auto n = [](const char* s) { return std::optional<std::string>(s); };
  const std::optional<std::string> null;
  struct Case {
    Row row;
    const char* sqlstate;
  };
  std::vector<Case> cases = {
      // 9999999999.995 rounds to 10^10: beyond numeric(12,2).
      {{n("a"), n("a"), n("a"), n("1"), n("1"), n("t"), n("1"), n("9999999999.995")}, "22003"},
      {{n("a"), n("0123456789abc")}, "22001"},  // varchar(12)
      {{n("a"), null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        n("abcde")},
       "22001"},  // char(4)
  };
  for (const Case& c : cases) {
    std::string sqlstates[2];
    for (bool binary : {false, true}) {
      try {
        copy(binary ? binary_ : text_, binary, {c.row});
        ADD_FAILURE() << "a value beyond its typmod was stored with binary=" << binary;
      } catch (const CopyRefusedError& e) {
        sqlstates[binary] = e.sqlstate();
        EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
      }
    }
    EXPECT_EQ(sqlstates[0], c.sqlstate);
    EXPECT_EQ(sqlstates[1], sqlstates[0]);
  }
}

TEST_F(CopyBinaryEncoderTest, AValueTheEncoderCannotConvertIsRefusedWithTableColumnAndKey) {
  auto n = [](const char* s) { return std::optional<std::string>(s); };
  std::vector<Row> rows = {{n("a"), n("a"), n("a"), n("1"), n("1"), n("t")},
                           {n("a"), n("a"), n("a"), n("twelve"), n("1"), n("t")}};
  try {
    copy(binary_, true, rows);
    FAIL() << "binary COPY sent 'twelve' as an integer";
  } catch (const CopyRefusedError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.sqlstate(), "22P02");
    EXPECT_NE(msg.find("legacy_things 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("public.as_binary"), std::string::npos) << msg;
    EXPECT_NE(msg.find("c_int"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'twelve'"), std::string::npos) << msg;
  }
  EXPECT_EQ(count("SELECT count(*) FROM as_binary"), "0");
}

TEST_F(CopyBinaryEncoderTest, TablesWithOtherTypesOrZonedTimestampsStayOnText) {
  conn_->exec("CREATE TABLE other (id uuid PRIMARY KEY, code char(2), ratio real)");
  TargetCatalog catalog = TargetCatalog::read(*conn_, {"public.other"});
  WritePlan plan = text_;
  plan.targetTable = "other";
  plan.columns = {"id", "code", "ratio"};
  CopyWriter other(*conn_, plan, *catalog.table("public.other"), CopyFormat{true, true});
  EXPECT_FALSE(other.binary());  // because of real
  // Timestamps need source.timezone to be UTC.
  CopyWriter zoned(*conn_, binary_, *catalog_.table("public.as_binary"), CopyFormat{true, false});
  EXPECT_FALSE(zoned.binary());
  CopyWriter utc(*conn_, binary_, *catalog_.table("public.as_binary"), CopyFormat{true, true});
  EXPECT_TRUE(utc.binary());
  // A text-only table still copies.
  conn_->exec("BEGIN");
  other.begin();
  TargetWrite w;
  w.op = WriteOp::Upsert;
  w.plan = &plan;
  w.row = uuidV5(kNamespace, "1");
  w.setLegacyKey("1");
  w.addValue(w.row.str());
  w.addValue("a");
  w.addValue("0.5");
  other.write(w);
  EXPECT_EQ(other.finish(), 1u);
  conn_->exec("COMMIT");
  EXPECT_EQ(count("SELECT count(*) FROM other WHERE code = 'a' AND ratio = 0.5"), "1");
}

TEST(CopyBinaryEncoderTypes, TypeOfReadsFormatType) {
  EXPECT_EQ(CopyBinaryEncoder::typeOf("numeric(12,2)", false), BinaryType::Numeric);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("character varying(40)", false), BinaryType::Text);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("timestamp(3) with time zone", true),
            BinaryType::Timestamptz);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("timestamp without time zone", true), BinaryType::Timestamp);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("timestamp with time zone", false), std::nullopt);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("character(2)", true), BinaryType::Text);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("real", true), std::nullopt);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("integer[]", true), std::nullopt);
  EXPECT_EQ(CopyBinaryEncoder::typeOf("numeric(12,2)[]", true), std::nullopt);
  EXPECT_TRUE(CopyBinaryEncoder::isUtcZone("utc"));
  EXPECT_FALSE(CopyBinaryEncoder::isUtcZone("America/New_York"));
}

TEST(CopyBinaryEncoderTypes, UnconvertibleTextsLeaveTheBufferUnchanged) {
  std::string out = "kept";
  for (auto [type, text] : std::vector<std::pair<BinaryType, std::string>>{
           {BinaryType::Int2, "40000"},
           {BinaryType::Int4, "1.5"},
           {BinaryType::Int8, ""},
           {BinaryType::Bool, "maybe"},
           {BinaryType::Numeric, "1e5"},
           {BinaryType::Numeric, "."},
           {BinaryType::Date, "2019-02-29"},
           {BinaryType::Date, "01/02/2019"},
           {BinaryType::Timestamptz, "2019-01-01 05:00:00 America/New_York"},
           {BinaryType::Timestamptz, "2019-01-01 05:00:00.1234567"},
           {BinaryType::Timestamp, "2019-01-01 25:00:00"},
           {BinaryType::Uuid, "not-a-uuid"}}) {
    EXPECT_FALSE(CopyBinaryEncoder::appendValue(out, type, text)) << text;
    EXPECT_EQ(out, "kept") << text;
  }
}

}  // namespace
}  // namespace pgmorph
