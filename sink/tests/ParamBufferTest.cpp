#include "sink/ParamBuffer.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

TEST(ParamBufferTest, LaysOutNulTerminatedValuesAndNullPointersForNull) {
  ParamBuffer p;
  ASSERT_TRUE(p.add("a'b\\c"));
  p.addNull();
  ASSERT_TRUE(p.add(""));
  // Enough text to move the buffer: pointers are only taken by values().
  ASSERT_TRUE(p.add(std::string(10000, 'x')));
  ASSERT_EQ(p.count(), 4);
  const char* const* v = p.values();
  EXPECT_STREQ(v[0], "a'b\\c");
  EXPECT_EQ(v[1], nullptr);
  EXPECT_STREQ(v[2], "");
  EXPECT_EQ(std::string(v[3]), std::string(10000, 'x'));
  p.clear();
  EXPECT_EQ(p.count(), 0);
}

TEST(ParamBufferTest, RefusesAValueWithANulByteInsteadOfCuttingIt) {
  ParamBuffer p;
  EXPECT_FALSE(p.add(std::string_view("a\0b", 3)));
  EXPECT_EQ(p.count(), 0);
}

}  // namespace
}  // namespace pgmorph
