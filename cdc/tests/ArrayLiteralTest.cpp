// ArrayLiteral: the exact text of one-dimensional array literals (the server's round trip of
// awkward values is in sink/tests/OrderingBulkTest).
#include "cdc/pg/ArrayLiteral.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

TEST(ArrayLiteral, QuotesEveryElementAndEscapesQuotesAndBackslashes) {
  ArrayLiteral a;
  a.add("plain");
  a.add("");
  a.add("NULL");
  a.add("say \"hi\"");
  a.add("C:\\dir\\");
  a.add("{a,b} (c)");
  a.addNull();
  a.add(" spaced ");
  EXPECT_EQ(a.view(),
            R"x({"plain","","NULL","say \"hi\"","C:\\dir\\","{a,b} (c)",NULL," spaced "})x");
  EXPECT_EQ(a.size(), 8u);
  EXPECT_STREQ(a.c_str(), std::string(a.view()).c_str());
}

TEST(ArrayLiteral, IsEmptyAfterClearAndGrowsAfterBeingRead) {
  ArrayLiteral a;
  EXPECT_EQ(a.view(), "{}");
  a.add("x");
  EXPECT_EQ(a.view(), R"({"x"})");
  a.add("y");  // reading closed the literal; adding reopens it
  EXPECT_EQ(a.view(), R"({"x","y"})");
  a.clear();
  a.addNull();
  EXPECT_EQ(a.view(), "{NULL}");
  a.clear();
  EXPECT_EQ(a.view(), "{}");
  EXPECT_EQ(a.size(), 0u);
}

TEST(ArrayLiteral, RefusesANulByteAndAddsNothing) {
  ArrayLiteral a;
  a.add("ok");
  EXPECT_FALSE(a.add(std::string_view("bad\0value", 9)));
  EXPECT_EQ(a.view(), R"({"ok"})");
  EXPECT_EQ(a.size(), 1u);
  // Found only after escapes were written, with the literal already closed by view().
  EXPECT_FALSE(a.add(std::string_view("q\"\\\0", 4)));
  EXPECT_EQ(a.view(), R"({"ok"})");
  EXPECT_TRUE(a.add("x\"y"));
  EXPECT_EQ(a.view(), R"({"ok","x\"y"})");
  EXPECT_EQ(a.size(), 2u);
  ArrayLiteral first;
  EXPECT_FALSE(first.add(std::string_view("\0", 1)));
  EXPECT_TRUE(first.add("a"));
  EXPECT_EQ(first.view(), R"({"a"})");
}

}  // namespace
}  // namespace pgmorph
