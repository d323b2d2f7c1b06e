// ServerDetail: a refusal's DETAIL and CONTEXT keep names, never a row's values.
#include "sink/ServerDetail.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

TEST(ServerDetailTest, AKeyDetailKeepsTheColumnsAndDropsTheValues) {
  EXPECT_EQ(detailWithoutValues("Key (email)=(eve@example.com) already exists."),
            "Key (email) already exists.");
  EXPECT_EQ(detailWithoutValues("Key (a, b)=(x) already exists, y) already exists."),
            "Key (a, b) already exists.");
  EXPECT_EQ(detailWithoutValues("Key (recipient_id)=(0b6f...) is not present in table \"p\"."),
            "Key (recipient_id) is not present in table \"p\".");
  EXPECT_EQ(detailWithoutValues("Key (id)=(7) is still referenced from table \"c\"."),
            "Key (id) is still referenced from table \"c\".");
}

TEST(ServerDetailTest, ARowDumpOrAnUnknownFormIsDropped) {
  EXPECT_EQ(detailWithoutValues("Failing row contains (8, not an e-mail, Eve, Doe)."), "");
  EXPECT_EQ(detailWithoutValues("Key (email)=(eve@example.com) somehow else."), "");
  EXPECT_EQ(detailWithoutValues(""), "");
}

TEST(ServerDetailTest, ACopyContextIsCutBeforeItsValue) {
  EXPECT_EQ(copyContextWithoutValues("COPY profiles, line 3, column email: \"eve@x\""),
            "COPY profiles, line 3, column email");
  EXPECT_EQ(copyContextWithoutValues("COPY profiles, line 3"), "COPY profiles, line 3");
}

}  // namespace
}  // namespace pgmorph
