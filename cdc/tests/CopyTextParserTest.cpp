// CopyTextParser: COPY text format rows -> fields, by hand-made rows and by rows that a real
// PostgreSQL 15 server sends for values chosen to exercise every escape.
#include "cdc/CopyTextParser.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "cdc/tests/CdcTestSupport.h"

namespace pgmorph {
namespace {

using Fields = std::vector<std::optional<std::string>>;

Fields parseAll(CopyTextParser& p, std::string_view row) {
  Fields out;
  for (const auto& f : p.parse(row))
    out.push_back(f.isNull ? std::nullopt : std::optional<std::string>(std::string(f.value)));
  return out;
}

TEST(CopyTextParserTest, SplitsFieldsAndTellsNullFromEmptyAndFromTheTextBackslashN) {
  CopyTextParser p;
  EXPECT_EQ(parseAll(p, "1\tabc\t\\N\t\t\\\\N\n"), (Fields{"1", "abc", std::nullopt, "", "\\N"}));
  EXPECT_EQ(parseAll(p, "only"), (Fields{"only"}));
  EXPECT_EQ(parseAll(p, "\n"), (Fields{""}));
  EXPECT_EQ(parseAll(p, "\t\n"), (Fields{"", ""}));
}

TEST(CopyTextParserTest, UndoesEveryEscapeIncludingEscapedSeparators) {
  CopyTextParser p;
  EXPECT_EQ(parseAll(p, "a\\tb\\nc\\rd\\\\e\tx\\by\\fz\\v\n"),
            (Fields{"a\tb\nc\rd\\e", "x\by\fz\v"}));
  // Octal and hex escapes (COPY FROM accepts them; a server may be fed them back).
  EXPECT_EQ(parseAll(p, "\\101\\x42\\x4a\\7\tq\\x\n"), (Fields{"ABJ\a", "qx"}));
  // A backslash before a raw tab keeps the tab inside the field.
  EXPECT_EQ(parseAll(p, "left\\\tright\tnext"), (Fields{"left\tright", "next"}));
  // Any other escaped character stands for itself.
  EXPECT_EQ(parseAll(p, "\\.\\q"), (Fields{".q"}));
}

TEST(CopyTextParserTest, KeepsUnicodeBytesAndEarlierFieldsValidWhileUnescapingLaterOnes) {
  CopyTextParser p;
  std::string row = "žluťoučký\\tkůň\t日本語\t\\\\x00ff\t😀";
  auto fields = p.parse(row);
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].value, "žluťoučký\tkůň");
  EXPECT_EQ(fields[1].value, "日本語");
  EXPECT_EQ(fields[2].value, "\\x00ff");
  EXPECT_EQ(fields[3].value, "😀");
}

TEST(CopyTextParserTest, RefusesWhatAServerNeverSends) {
  CopyTextParser p;
  EXPECT_THROW(p.parse("abc\\"), CopyFormatError);
  EXPECT_THROW(p.parse("a\nb\n"), CopyFormatError);
  EXPECT_THROW(p.parse("a\\tb\nc"), CopyFormatError);
}

class CopyTextParserServerTest : public test::SourceDatabaseTest {};

TEST_F(CopyTextParserServerTest, ParsesWhatCopyToStdoutSendsBackToTheOriginalValues) {
  PgConnection conn(conninfo(), "source");
  conn.exec("CREATE TABLE v (n int PRIMARY KEY, t text)");
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
      std::string(5000, 'x') + "\t" + std::string(10, '\\')};
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string n = std::to_string(i);
    if (values[i])
      conn.execParams("INSERT INTO v VALUES ($1::int, $2)", {n, *values[i]});
    else
      conn.execParams("INSERT INTO v VALUES ($1::int, NULL)", {n});
  }
  auto res = conn.exec("COPY (SELECT n, t FROM v ORDER BY n) TO STDOUT");
  ASSERT_EQ(res.status(), PGRES_COPY_OUT);
  CopyTextParser parser;
  std::size_t row = 0;
  char* buf = nullptr;
  int len;
  while ((len = PQgetCopyData(conn.get(), &buf, 0)) > 0) {
    auto fields = parser.parse(std::string_view(buf, static_cast<std::size_t>(len)));
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].value, std::to_string(row));
    ASSERT_LT(row, values.size());
    if (values[row]) {
      EXPECT_FALSE(fields[1].isNull) << "row " << row;
      EXPECT_EQ(fields[1].value, *values[row]) << "row " << row;
    } else {
      EXPECT_TRUE(fields[1].isNull) << "row " << row;
    }
    PQfreemem(buf);
    ++row;
  }
  EXPECT_EQ(len, -1);
  PgResult end(PQgetResult(conn.get()));
  EXPECT_EQ(end.status(), PGRES_COMMAND_OK);
  EXPECT_EQ(row, values.size());
}

}  // namespace
}  // namespace pgmorph
