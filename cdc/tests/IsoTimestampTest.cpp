#include "cdc/IsoTimestamp.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

std::int64_t parsed(std::string_view text) {
  std::int64_t v = -1;
  EXPECT_TRUE(parseIsoTimestamptz(text, v)) << text;
  return v;
}

bool rejects(std::string_view text) {
  std::int64_t v = 0;
  return !parseIsoTimestamptz(text, v);
}

TEST(IsoTimestamp, ParsesPostgresIsoOutput) {
  EXPECT_EQ(parsed("1970-01-01 00:00:00+00"), 0);
  EXPECT_EQ(parsed("2000-01-01 00:00:00+00"), 946684800LL * 1000000);
  EXPECT_EQ(parsed("2025-01-01 10:00:00.123456+00"), 1735725600123456);
  // PostgreSQL drops trailing zeros of the fraction.
  EXPECT_EQ(parsed("2025-01-01 10:00:00.42146+00"), 1735725600421460);
  EXPECT_EQ(parsed("2025-01-01 10:00:00.1+00"), 1735725600100000);
  EXPECT_EQ(parsed("2024-02-29 23:59:59+00"), 1709251199LL * 1000000);
  EXPECT_EQ(parsed("1969-12-31 23:59:59.5+00"), -500000);
}

TEST(IsoTimestamp, AppliesTheOffset) {
  EXPECT_EQ(parsed("2025-01-01 15:30:00+05:30"), parsed("2025-01-01 10:00:00+00"));
  EXPECT_EQ(parsed("2025-01-01 07:00:00-03"), parsed("2025-01-01 10:00:00+00"));
  EXPECT_EQ(parsed("1900-01-01 00:00:00+00:09:21"), parsed("1899-12-31 23:50:39+00"));
  EXPECT_EQ(parsed("2025-01-01 10:00:00"), parsed("2025-01-01 10:00:00+00"));
  EXPECT_EQ(parsed("10000-01-01 00:00:00+00"), 253402300800LL * 1000000);
}

TEST(IsoTimestamp, RejectsAnythingElse) {
  EXPECT_TRUE(rejects(""));
  EXPECT_TRUE(rejects("infinity"));
  EXPECT_TRUE(rejects("2025-01-01 10:00:00+00 BC"));
  EXPECT_TRUE(rejects("01.03.2024 07:00:00 EST"));
  EXPECT_TRUE(rejects("2025-01-01T10:00:00Z"));
  EXPECT_TRUE(rejects("2025-13-01 10:00:00+00"));
  EXPECT_TRUE(rejects("2025-01-01 10:00:00.+00"));
  EXPECT_TRUE(rejects("2025-01-01 10:00:00.1234567+00"));
  EXPECT_TRUE(rejects("2025-01-01 10:00:00+0"));
  EXPECT_TRUE(rejects("2025-01-01 10:00"));
}

}  // namespace
}  // namespace pgmorph
