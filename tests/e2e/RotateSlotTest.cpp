// The README's "Rotating the slot", step by step: after a snapshot and some streaming, stop,
// `pgmorph status`, empty the target tables and the pipeline's state rows in one transaction,
// `pgmorph snapshot --recreate-slot`, follow: a new slot (a later consistent point) and a target
// that equals the projection of the source, changes made before the rotation included.
#include <gtest/gtest.h>

#include <chrono>

#include <fmt/format.h>

#include "tests/e2e/PgmorphProcessTest.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

class RotateSlotTest : public PgmorphProcessTest {
 protected:
  RotateSlotTest() : PgmorphProcessTest("rotate") {}
};

TEST_F(RotateSlotTest, TheReadmeProcedureGivesANewSlotAndAnExactTarget) {
  env().loadSampleData();
  ASSERT_EQ(finish(startPgmorph("snapshot"), 300s), 0);
  RunResult first = env().runFollowUntilCaughtUp();
  ASSERT_EQ(first.exitStatus, 0) << first.stderrText;
  auto oldSlot = env().slotState();
  ASSERT_TRUE(oldSlot && oldSlot->confirmedFlush);
  // Written while pgmorph is stopped: the new snapshot must bring them.
  env().finishWriter(env().startWriter(5s));

  // 2. status answers (both databases), 3. the SQL of the README, 4. snapshot --recreate-slot.
  ASSERT_EQ(finish(startPgmorph("status"), 60s), 0);
  {
    PgConnection t = env().connectTarget();
    std::string tables(t.exec("SELECT string_agg(format('%I.%I', schemaname, tablename), ', ')"
                              "  FROM pg_tables WHERE schemaname = 'public'")
                           .value(0, 0));
    std::string state = t.quoteIdent(env().stateSchema());
    t.exec("BEGIN");
    t.exec("TRUNCATE " + tables);
    for (const char* table : {"checkpoint", "snapshot", "snapshot_tables", "parked"})
      t.execParams(fmt::format("DELETE FROM {}.{} WHERE pipeline = $1", state, table),
                   {env().pipeline()});
    t.exec("COMMIT");
  }
  ASSERT_EQ(finish(startPgmorph("snapshot", {"--recreate-slot"}), 300s), 0);
  auto newSlot = env().slotState();
  ASSERT_TRUE(newSlot && newSlot->confirmedFlush);
  EXPECT_GT(*newSlot->confirmedFlush, *oldSlot->confirmedFlush) << "the slot was not re-created";

  RunResult after = env().runFollowUntilCaughtUp();
  ASSERT_EQ(after.exitStatus, 0) << after.stderrText;
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 25000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();
}

}  // namespace
}  // namespace pgmorph::e2e
