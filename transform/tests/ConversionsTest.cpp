#include "transform/Conversions.h"

#include <gtest/gtest.h>

namespace pgmorph::conversions {
namespace {

TEST(Conversions, NaiveTimestampsAreRecognisedWithFractionAndEra) {
  EXPECT_EQ(classifyTimestamp("2019-01-01 05:00:00"), TimestampShape::Naive);
  EXPECT_EQ(classifyTimestamp("2019-01-01 05:00:00.123456"), TimestampShape::Naive);
  EXPECT_EQ(classifyTimestamp("2019-12-31 23:59:59.5"), TimestampShape::Naive);
  EXPECT_EQ(classifyTimestamp("0044-03-15 12:00:00 BC"), TimestampShape::Naive);
  EXPECT_EQ(classifyTimestamp("12345-01-01 00:00:00"), TimestampShape::Naive);
  EXPECT_EQ(classifyTimestamp("2019-01-01 24:00:00"),
            TimestampShape::Naive);  // PostgreSQL allows it
}

TEST(Conversions, TimestampsWithAnOffsetAndSpecialValuesPassThrough) {
  EXPECT_EQ(classifyTimestamp("2019-01-01 05:00:00+00"), TimestampShape::WithOffset);
  EXPECT_EQ(classifyTimestamp("2019-01-01 05:00:00.25-05:30"), TimestampShape::WithOffset);
  EXPECT_EQ(classifyTimestamp("1890-01-01 05:00:00+00:19:32"), TimestampShape::WithOffset);
  EXPECT_EQ(classifyTimestamp("0044-03-15 12:00:00+00 BC"), TimestampShape::WithOffset);
  EXPECT_EQ(classifyTimestamp("infinity"), TimestampShape::Special);
  EXPECT_EQ(classifyTimestamp("-infinity"), TimestampShape::Special);
}

TEST(Conversions, GarbageIsNotATimestamp) {
  for (const char* bad : {"",
                          "yesterday",
                          "2019-01-01",
                          "2019-01-01T05:00:00",
                          "2019-13-01 05:00:00",
                          "2019-00-10 05:00:00",
                          "2019-01-32 05:00:00",
                          "2019-01-01 25:00:00",
                          "2019-01-01 05:60:00",
                          "2019-01-01 05:00:61",
                          "2019-01-01 05:00:00.",
                          "2019-01-01 05:00:00.1234567",
                          "19-01-01 05:00:00",
                          "2019-1-01 05:00:00",
                          "2019-01-01 05:00:00 UTC",
                          "2019-01-01 05:00:00+",
                          "2019-01-01 05:00:00+5",
                          "2019-01-01 05:00:00 BC junk",
                          "01.03.2024 07:00:00",
                          "2019-01-01 05:00:00\n"})
    EXPECT_EQ(classifyTimestamp(bad), TimestampShape::Invalid) << "'" << bad << "'";
}

TEST(Conversions, BooleansAcceptZeroOneTrueFalseAndTF) {
  EXPECT_EQ(booleanText("1"), "true");
  EXPECT_EQ(booleanText("0"), "false");
  EXPECT_EQ(booleanText("true"), "true");
  EXPECT_EQ(booleanText("FALSE"), "false");
  EXPECT_EQ(booleanText("t"), "true");
  EXPECT_EQ(booleanText("f"), "false");
  for (const char* bad : {"", "2", "-1", "yes", "no", "01", "tru", "1.0"})
    EXPECT_FALSE(booleanText(bad).has_value()) << "'" << bad << "'";
}

TEST(Conversions, JsonMustBeExactlyOneValue) {
  EXPECT_TRUE(isValidJson(R"({"order": 1, "by": "user1", "tags": ["a", "b"]})", nullptr));
  EXPECT_TRUE(isValidJson("[]", nullptr));
  EXPECT_TRUE(isValidJson("12345678901234567890.123456789", nullptr));
  EXPECT_TRUE(isValidJson("\"text\"", nullptr));
  EXPECT_TRUE(isValidJson("  null ", nullptr));
  EXPECT_TRUE(isValidJson("\t{\r\n\"a\" :\t[ 1 , 2 ]\n}\n", nullptr));  // every whitespace
  EXPECT_FALSE(isValidJson("[1,\v2]", nullptr));                        // not JSON whitespace
  std::string why;
  EXPECT_FALSE(isValidJson(R"({"order": 500, "note": "unterminated)", &why));
  EXPECT_NE(why.find("offset"), std::string::npos) << why;
  EXPECT_FALSE(isValidJson("", &why));
  EXPECT_FALSE(isValidJson("{} {}", &why));
  EXPECT_FALSE(isValidJson("{'a': 1}", &why));
  EXPECT_FALSE(isValidJson("[1,", &why));
  EXPECT_TRUE(isValidJson("[1]", &why));  // the same reader again, after a failure
}

TEST(Conversions, JsonStringsOfEveryLengthAndEscapePlaceAreJudgedRight) {
  // Strings are scanned 16 bytes at a time from wherever they start; the verdict must not
  // depend on where a string, its escape or its end falls relative to those blocks.
  std::string why;
  for (std::size_t length = 0; length <= 40; ++length) {
    std::string plain(length, 'x');
    for (std::size_t at = 0; at <= length; ++at) {
      std::string head = plain.substr(0, at), tail = plain.substr(at);
      std::string good = R"({"k": ")" + head + R"(\"\\)" + tail + R"("})";
      EXPECT_TRUE(isValidJson(good, &why)) << good << ": " << why;
      std::string control = R"({"k": ")" + head + "\t" + tail + R"("})";
      EXPECT_FALSE(isValidJson(control, &why)) << "a raw tab: " << control;
      std::string badEscape = R"({"k": ")" + head + R"(\q)" + tail + R"("})";
      EXPECT_FALSE(isValidJson(badEscape, &why)) << badEscape;
      std::string open = R"({"k": ")" + head + R"(\")" + tail;
      EXPECT_FALSE(isValidJson(open, &why)) << open;
    }
  }
}

TEST(Conversions, JsonWithANulCharacterIsNotValid) {
  // The check parses a NUL-terminated copy: a NUL inside the text must not end it early.
  using namespace std::string_view_literals;
  std::string why;
  EXPECT_FALSE(isValidJson("{}\0{}"sv, &why));
  EXPECT_NE(why.find("NUL"), std::string::npos) << why;
  EXPECT_FALSE(isValidJson("[1,\0 2]"sv, &why));
  EXPECT_FALSE(isValidJson("\"a\0b\""sv, &why));
  EXPECT_FALSE(isValidJson("{}\0"sv, &why));
  EXPECT_TRUE(isValidJson("\"a\\u0000b\""sv, &why)) << why;  // an escaped NUL is JSON
}

}  // namespace
}  // namespace pgmorph::conversions
