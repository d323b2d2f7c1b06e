// CopyTextEncoder: values -> COPY text format, checked by hand and by a real PostgreSQL 15
// server reading the encoded rows back into exactly the values that were encoded.
#include "sink/CopyTextEncoder.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

std::string encoded(std::string_view v) {
  std::string out;
  CopyTextEncoder::appendValue(out, v);
  return out;
}

TEST(CopyTextEncoderTest, EscapesOnlyWhatWouldChangeTheRowsShape) {
  EXPECT_EQ(encoded("plain text"), "plain text");
  EXPECT_EQ(encoded(""), "");
  EXPECT_EQ(encoded("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
  EXPECT_EQ(encoded("\\N"), "\\\\N");  // the text "\N" must not read back as NULL
  EXPECT_EQ(encoded("ünïcödé 😀"), "ünïcödé 😀");
  std::string row;
  CopyTextEncoder::appendValue(row, "1");
  CopyTextEncoder::appendSeparator(row);
  CopyTextEncoder::appendNull(row);
  CopyTextEncoder::appendSeparator(row);
  CopyTextEncoder::appendValue(row, "x");
  CopyTextEncoder::endRow(row);
  EXPECT_EQ(row, "1\t\\N\tx\n");
}

class CopyTextEncoderServerTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = test::sharedTarget().createDatabase("encoder"); }
  void TearDown() override { test::sharedTarget().dropDatabase(db_); }
  std::string db_;
};

TEST_F(CopyTextEncoderServerTest, TheServerReadsBackExactlyTheEncodedValues) {
  PgConnection conn(test::sharedTarget().conninfo(db_), "target");
  conn.exec("CREATE TABLE v (n int PRIMARY KEY, t text, j jsonb)");
  std::vector<std::optional<std::string>> values = {
      "plain",
      "",
      std::nullopt,
      "\\N",
      "tab\there",
      "new\nline",
      "cr\rhere",
      "back\\slash",
      "\\\\double",
      "trailing\\",
      "\b\f\v bells",
      "ünïcödé ✓",
      "emoji 😀 and 日本",
      "quote ' \" ,",
      "\\.",
      "\\x41",
      "\\101",
      std::string(70000, 'y') + "\t" + std::string(10, '\\')};
  std::string data;
  for (std::size_t i = 0; i < values.size(); ++i) {
    CopyTextEncoder::appendValue(data, std::to_string(i));
    CopyTextEncoder::appendSeparator(data);
    if (values[i])
      CopyTextEncoder::appendValue(data, *values[i]);
    else
      CopyTextEncoder::appendNull(data);
    CopyTextEncoder::appendSeparator(data);
    // The same value inside a JSON document: jsonb parses what COPY unescaped.
    CopyTextEncoder::appendValue(data, R"({"k": "a\tb \\ c"})");
    CopyTextEncoder::endRow(data);
  }
  auto res = conn.exec("COPY v (n, t, j) FROM STDIN");
  ASSERT_EQ(res.status(), PGRES_COPY_IN);
  ASSERT_EQ(PQputCopyData(conn.get(), data.data(), static_cast<int>(data.size())), 1);
  ASSERT_EQ(PQputCopyEnd(conn.get(), nullptr), 1);
  PgResult end(PQgetResult(conn.get()));
  ASSERT_EQ(end.status(), PGRES_COMMAND_OK) << end.errorMessage();
  while (PGresult* r = PQgetResult(conn.get())) PQclear(r);

  auto back = conn.exec("SELECT n, t, j->>'k' FROM v ORDER BY n");
  ASSERT_EQ(back.rows(), static_cast<int>(values.size()));
  for (int r = 0; r < back.rows(); ++r) {
    if (values[r]) {
      ASSERT_FALSE(back.isNull(r, 1)) << "row " << r;
      EXPECT_EQ(back.value(r, 1), *values[r]) << "row " << r;
    } else {
      EXPECT_TRUE(back.isNull(r, 1)) << "row " << r;
    }
    EXPECT_EQ(back.value(r, 2), "a\tb \\ c");
  }
}

}  // namespace
}  // namespace pgmorph
