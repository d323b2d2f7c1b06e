// Uuid: the canonical text form, both ways (the name-based ids are IdMapperTest's).
#include "cdc/model/Uuid.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <stdexcept>
#include <string>

namespace pgmorph {
namespace {

TEST(Uuid, FormatsEveryByteValueAsTwoLowercaseHexDigits) {
  std::mt19937 rng(7);
  for (int n = 0; n < 2000; ++n) {
    Uuid u;
    for (int i = 0; i < 16; ++i)  // every byte value in every position, then random ones
      u.bytes[i] = static_cast<std::uint8_t>(n < 256 ? (n + 17 * i) % 256 : rng() % 256);
    std::string expected;
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) expected += '-';
      expected += "0123456789abcdef"[u.bytes[i] >> 4];
      expected += "0123456789abcdef"[u.bytes[i] & 15];
    }
    ASSERT_EQ(u.str(), expected);
    ASSERT_EQ(Uuid::parse(expected), u);
  }
}

TEST(Uuid, ParsesOnlyTheCanonicalFormInEitherCase) {
  const std::string good = "8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b";
  const Uuid u = Uuid::parse(good);
  EXPECT_EQ(u.str(), good);
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Uuid::parse(upper), u);
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char c : {'g', 'G', '-', ' ', '\0', '/', ':', '@', '`', static_cast<char>(0xE9)}) {
      std::string bad = good;
      if (bad[i] == c) continue;
      bad[i] = c;
      EXPECT_THROW(Uuid::parse(bad), std::invalid_argument) << "position " << i << ": " << bad;
    }
    if (good[i] == '-') {  // a digit where a dash belongs
      std::string bad = good;
      bad[i] = '0';
      EXPECT_THROW(Uuid::parse(bad), std::invalid_argument) << bad;
    }
  }
  for (std::string bad : {std::string(), good.substr(1), good + "0", "{" + good + "}",
                          std::string("8d3e2f4a1c5b4e7a9b1f3c2d4e5f6a7b")})
    EXPECT_THROW(Uuid::parse(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace pgmorph
