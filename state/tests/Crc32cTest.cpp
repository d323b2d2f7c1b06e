// The journal's CRC32C: the hardware form and Boost.CRC's give the same checksum, which is the
// standard CRC32C (the check value of "123456789" is 0xE3069283).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "state/journal/Crc32c.h"

namespace pgmorph::journal {
namespace {

TEST(Crc32c, IsTheCastagnoliChecksum) {
  EXPECT_EQ(crc32cBoost("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, TheHardwareFormAgreesWithBoostAtEveryLengthAndAlignment) {
  if (!hasHardwareCrc32c()) GTEST_SKIP() << "this CPU has no SSE4.2: only Boost's form is used";
  std::mt19937 random(42);
  std::string bytes(300, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  for (std::size_t offset = 0; offset < 9; ++offset)
    for (std::size_t length = 0; offset + length <= bytes.size(); ++length) {
      std::string_view s = std::string_view(bytes).substr(offset, length);
      ASSERT_EQ(crc32cHardware(s), crc32cBoost(s)) << "offset " << offset << " length " << length;
    }
}

}  // namespace
}  // namespace pgmorph::journal
