// ChangeJson: the exact text a parked source change is stored as. The parked table survives
// upgrades, so what earlier versions wrote must read back, and this version writes the same.
#include "sink/ChangeJson.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using namespace std::string_literals;
using test::makeChange;
using test::num;
using test::str;

TEST(ChangeJson, ASourceChangeSurvivesItsJson) {
  Change c = makeChange(
      ChangeKind::Update, "dispatch_notification",
      {num("id", "12345678901234567890"),
       str("template_context", "{\"note\": \"unterminated\n\t\\ \x01 ü"),
       test::null("recipient_id"), test::Col{"flag", "true", ValueKind::Bool, "boolean"}},
      {num("id", "12345678901234567890")});
  c.xid = 771;
  Change back;
  ChangeJson::decode(ChangeJson::encode(c), back);
  EXPECT_EQ(back.kind, ChangeKind::Update);
  EXPECT_EQ(back.xid, 771u);
  EXPECT_EQ(back.lsn, c.lsn);
  EXPECT_EQ(back.schema(), "public");
  EXPECT_EQ(back.table(), "dispatch_notification");
  ASSERT_EQ(back.columnCount(), c.columnCount());
  for (std::size_t i = 0; i < c.columnCount(); ++i) {
    EXPECT_EQ(back.column(i).name, c.column(i).name);
    EXPECT_EQ(back.column(i).type, c.column(i).type);
    EXPECT_EQ(back.column(i).value, c.column(i).value);
    EXPECT_EQ(back.column(i).kind, c.column(i).kind);
  }
  ASSERT_EQ(back.identityCount(), 1u);
  EXPECT_EQ(back.identity(0).value, "12345678901234567890");
  EXPECT_THROW(ChangeJson::decode("{\"k\":\"Z\"}", back), std::invalid_argument);
  EXPECT_THROW(ChangeJson::decode("not json", back), std::invalid_argument);
}

TEST(ChangeJson, KeepsTheStoredFormat) {
  Change c = makeChange(ChangeKind::Update, "dispatch_notification",
                        {num("id", "1300"), str("no\"te", "a\\\0\xc3\xa9\n"s), test::null("gone"),
                         test::Col{"flag", "true", ValueKind::Bool, "boolean"}},
                        {num("id", "1300")});
  c.xid = 4294967295u;
  // Non-ASCII characters are written as \u escapes (any target encoding stores them); what
  // earlier versions wrote, with the UTF-8 bytes as they are, reads back the same.
  const std::string stored =
      R"({"k":"U","x":4294967295,"l":"0/16B3748","s":"public","t":"dispatch_notification",)"
      R"("c":[["id","integer","#","1300"],["no\"te","text","s","a\\\u0000\u00E9\n"],)"
      R"(["gone","text","n",""],["flag","boolean","b","true"]],)"
      R"("i":[["id","integer","#","1300"]]})";
  const std::string storedBefore =
      R"({"k":"U","x":4294967295,"l":"0/16B3748","s":"public","t":"dispatch_notification",)"
      R"("c":[["id","integer","#","1300"],["no\"te","text","s","a\\\u0000)"
      "\xc3\xa9"
      R"(\n"],["gone","text","n",""],["flag","boolean","b","true"]],)"
      R"("i":[["id","integer","#","1300"]]})";
  EXPECT_EQ(ChangeJson::encode(c), stored);

  for (const std::string& text : {stored, storedBefore}) {
    Change back;
    ChangeJson::decode(text, back);
    EXPECT_EQ(ChangeJson::encode(back), stored);
    ASSERT_EQ(back.columnCount(), 4u);
    EXPECT_EQ(back.column(1).name, "no\"te");
    EXPECT_EQ(back.column(1).value, "a\\\0\xc3\xa9\n"s);
  }
}

TEST(ChangeJson, IsAsciiWhateverTheValuesSoAnyTargetEncodingStoresIt) {
  Change c = makeChange(ChangeKind::Insert, "towns",
                        {num("id", "12345678901234567890.123456789"), str("name", "Zürich 😀")}, {});
  std::string json = ChangeJson::encode(c);
  EXPECT_TRUE(std::all_of(json.begin(), json.end(), [](char ch) { return (ch & 0x80) == 0; }))
      << json;
  EXPECT_NE(json.find(R"(Z\u00FCrich \uD83D\uDE00)"), std::string::npos) << json;
  Change back;
  ChangeJson::decode(json, back);
  EXPECT_EQ(back.column(0).value, "12345678901234567890.123456789");
  EXPECT_EQ(back.column(1).value, "Zürich 😀");
  // Bytes that are not UTF-8 (a SQL_ASCII source) are kept as they are, as before.
  Change raw = makeChange(ChangeKind::Insert, "towns", {str("name", "Z\xFCrich")}, {});
  ChangeJson::decode(ChangeJson::encode(raw), back);
  EXPECT_EQ(back.column(0).value, "Z\xFCrich");
}

TEST(ChangeJson, KeepsTheStoredFormatOfATruncate) {
  Change c = makeChange(ChangeKind::Truncate, "dispatch_notification", {});
  const std::string stored =
      R"({"k":"T","x":0,"l":"0/16B3748","s":"public","t":"dispatch_notification","c":[],"i":[]})";
  EXPECT_EQ(ChangeJson::encode(c), stored);
  Change back;
  ChangeJson::decode(stored, back);
  EXPECT_EQ(back.kind, ChangeKind::Truncate);
  EXPECT_EQ(back.columnCount(), 0u);
}

}  // namespace
}  // namespace pgmorph
