// daysFromCivil against dates whose day numbers Python's datetime gives independently
// (date.toordinal() - date(1970, 1, 1).toordinal()), and across the range PostgreSQL's dates
// have and std::chrono's year does not.
#include "cdc/model/CivilDate.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

TEST(CivilDate, DaysSinceTheUnixEpoch) {
  EXPECT_EQ(daysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(daysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(daysFromCivil(2000, 1, 1), 10957);
  EXPECT_EQ(daysFromCivil(2024, 2, 29), 19782);
  EXPECT_EQ(daysFromCivil(1900, 3, 1), -25508);  // 1900 is not a leap year
  EXPECT_EQ(daysFromCivil(1, 1, 1), -719162);
  EXPECT_EQ(daysFromCivil(9999, 12, 31), 2932896);
}

TEST(CivilDate, ConsecutiveDaysStayConsecutiveFarOutside1970) {
  // Year 0 is 1 BC (a leap year); PostgreSQL's last date is 5874897-12-31.
  EXPECT_EQ(daysFromCivil(0, 3, 1) - daysFromCivil(0, 2, 29), 1);
  EXPECT_EQ(daysFromCivil(1, 1, 1) - daysFromCivil(0, 12, 31), 1);
  EXPECT_EQ(daysFromCivil(0, 12, 31) - daysFromCivil(0, 1, 1), 365);
  EXPECT_EQ(daysFromCivil(-4713, 11, 24), -2440588);  // Julian day 0, PostgreSQL's first date
  EXPECT_EQ(daysFromCivil(5874898, 1, 1) - daysFromCivil(5874897, 12, 31), 1);
  EXPECT_EQ(daysFromCivil(5874898, 1, 1), 2147483494 - 2440588);  // PostgreSQL's date end
}

}  // namespace
}  // namespace pgmorph
