// The one classification of SQLSTATEs: what is retried as it is, what needs an operator, and
// what is a row's own fault (isolated and parked by the sink).
#include "cdc/pg/SqlState.h"

#include <gtest/gtest.h>

#include <string>

#include "cdc/pg/PgError.h"

namespace pgmorph {
namespace {

ErrorClass classOf(std::string_view code) {
  return PgError::classify(std::string(code));
}

TEST(SqlState, ConnectionLossShutdownsConflictsAndShortResourcesAreRetried) {
  for (std::string_view code : {"", "08006", "08003", "08P01", "57P01", "57P03", "40001", "40P01",
                                "53100", "53200", "53300"})
    EXPECT_EQ(classOf(code), ErrorClass::Transient) << code;
}

TEST(SqlState, AConfigurationLimitNeedsAnOperatorLikeEverythingElse) {
  // Every replication slot in use, max_wal_senders reached: waiting does not help.
  EXPECT_EQ(classOf(sqlstate::kConfigurationLimitExceeded), ErrorClass::Operator);
  for (std::string_view code :
       {"42501", "42P01", "23503", "22P02", "0A000", "55000", "58P01", "XX000"})
    EXPECT_EQ(classOf(code), ErrorClass::Operator) << code;
}

TEST(SqlState, ARowIsRefusedForItsValuesItsKeysOrATriggerNotForTheSession) {
  for (std::string_view code :
       {"22P02", "22021", "23503", "23505", "23514", "23502", "44000", "P0001"})
    EXPECT_TRUE(sqlstate::refusesRow(code)) << code;
  for (std::string_view code : {"", "08006", "25P02", "40001", "42501", "42P01", "53400", "P0002"})
    EXPECT_FALSE(sqlstate::refusesRow(code)) << code;
  EXPECT_TRUE(sqlstate::isIntegrityViolation(sqlstate::kForeignKeyViolation));
  EXPECT_FALSE(sqlstate::isIntegrityViolation(sqlstate::kInvalidTextRepresentation));
}

}  // namespace
}  // namespace pgmorph
