#include "cdc/model/Lsn.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace pgmorph {

TEST(Lsn, ParsesAndFormatsTheServerForm) {
  Lsn lsn = Lsn::parse("16/B374D848");
  EXPECT_EQ(lsn.value(), (0x16ULL << 32) | 0xB374D848ULL);
  EXPECT_EQ(lsn.str(), "16/B374D848");
  EXPECT_EQ(Lsn::parse("0/0").value(), 0u);
  EXPECT_EQ(Lsn(0xFFFFFFFFFFFFFFFFULL).str(), "FFFFFFFF/FFFFFFFF");
  EXPECT_EQ(Lsn::parse("0/16b3748").str(), "0/16B3748");
  EXPECT_EQ(Lsn::parse("aBcDeF09/09FeDcBa").value(), 0xABCDEF0909FEDCBAULL);
}

TEST(Lsn, OrdersByWalPosition) {
  EXPECT_LT(Lsn::parse("0/FFFFFFFF"), Lsn::parse("1/0"));
  EXPECT_LT(Lsn::parse("0/16B3748"), Lsn::parse("0/16B3780"));
  EXPECT_EQ(Lsn::parse("A/1"), Lsn::parse("a/00000001"));
}

TEST(Lsn, RejectsMalformedText) {
  for (const char* bad : {"", "/", "1/", "/1", "12345", "0/1G", "1/2/3", "123456789/0", " 0/1",
                          "0/123456789", "0/-1", "+1/0", "0x1/0", "0/1 ", "0/ 1", "g/0", "0/:"}) {
    Lsn out;
    EXPECT_FALSE(Lsn::tryParse(bad, out)) << bad;
    EXPECT_THROW(Lsn::parse(bad), std::invalid_argument) << bad;
  }
}

}  // namespace pgmorph
