#include "state/NameList.h"

#include <gtest/gtest.h>

namespace pgmorph {

TEST(NameListTest, RoundTripsNamesWithBlanksQuotesAndCommas) {
  std::vector<std::string> names = {"id", "Order Ref", "a,b", "say \"hi\"", ""};
  std::string joined = joinNames(names);
  EXPECT_EQ(joined,
            "id\x1fOrder Ref\x1f"
            "a,b\x1fsay \"hi\"\x1f");
  EXPECT_EQ(splitNames(joined), names);
}

TEST(NameListTest, TheEmptyTextIsTheEmptyList) {
  EXPECT_TRUE(splitNames("").empty());
  EXPECT_EQ(joinNames({}), "");
  EXPECT_EQ(splitNames("only"), std::vector<std::string>{"only"});
}

}  // namespace pgmorph
