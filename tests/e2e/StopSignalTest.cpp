// SIGTERM, the stop of systemd, Docker and Kubernetes, ends `pgmorph follow` as SIGINT does:
// after the target transaction in flight, with exit 0, the checkpoint committed and the slot
// confirmed no further than it; the next run carries on from there, exactly once.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/Poll.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

TEST_F(DispatchE2eTest, SigtermStopsFollowCleanlyMidStreamAndTheNextRunResumesExactlyOnce) {
  ChildProcess& pgmorph = env().startFollow();
  env().waitForSlot(pgmorph, /*streaming=*/true);
  env().loadSampleData();  // ~25,000 rows in a few transactions: a backlog to stop inside
  ASSERT_TRUE(pollUntil(60s, [&] {
    auto cp = env().checkpoint();
    return cp && cp->appliedTransactions > 0;
  })) << "follow applied nothing within 60 s";

  pgmorph.signal(SIGTERM);
  auto status = pgmorph.waitFor(60s);
  ASSERT_TRUE(status) << "follow did not stop within 60 s of SIGTERM";
  EXPECT_EQ(*status, 0) << "SIGTERM must end follow cleanly, like SIGINT";
  EXPECT_NE(pgmorph.stderrText().find("received Terminated"), std::string::npos)
      << pgmorph.stderrText();

  auto checkpoint = env().checkpoint();
  ASSERT_TRUE(checkpoint) << "no checkpoint row after the SIGTERM stop";
  std::optional<SlotState> slot;
  EXPECT_TRUE(pollUntil(10s, [&] {
    slot = env().slotState();
    return slot && !slot->activePid;
  })) << "the slot is still active 10 s after pgmorph exited";
  ASSERT_TRUE(slot && slot->confirmedFlush);
  EXPECT_LE(*slot->confirmedFlush, checkpoint->lsn) << "the slot ran ahead of the target";

  RunResult catchUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(catchUp.exitStatus, 0) << catchUp.stderrText;
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 25000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();
}

}  // namespace
}  // namespace pgmorph::e2e
