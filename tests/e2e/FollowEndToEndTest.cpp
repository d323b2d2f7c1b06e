// End to end: `pgmorph follow` creates its slot, streams the sample data and a concurrent
// OLTP writer into the target, and after a clean stop and a `--until-caught-up` run the
// target equals the independent projection of the source, row for row.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_F(DispatchE2eTest, FollowStreamsSampleDataAndConcurrentWritesIntoAnExactProjection) {
  ChildProcess& pgmorph = env().startFollow();
  // Only what commits after the slot's consistent point is streamed (follow takes no
  // snapshot), so nothing is written before the slot exists and pgmorph streams from it.
  env().waitForSlot(pgmorph, /*streaming=*/true);

  auto start = Clock::now();
  env().loadSampleData();
  ChildProcess& writer = env().startWriter(20s);
  env().finishWriter(writer);
  ASSERT_TRUE(pgmorph.running()) << "pgmorph stopped while streaming, status "
                                 << pgmorph.exitStatus().value_or(-1);
  EXPECT_EQ(env().stopGracefully(pgmorph), 0) << "SIGINT must end follow cleanly";

  RunResult catchUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(catchUp.exitStatus, 0) << catchUp.stderrText;
  std::chrono::duration<double> total = Clock::now() - start;

  auto checkpoint = env().checkpoint();
  ASSERT_TRUE(checkpoint) << "no checkpoint row after follow";
  EXPECT_EQ(checkpoint->slot, env().slot());
  EXPECT_GT(checkpoint->appliedTransactions, 0);

  ComparisonReport report = env().compareWithProjection();
  // The sample data alone is ~25,000 rows: an empty or truncated comparison proves nothing.
  ASSERT_GE(report.expectedRows(), 25000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();

  std::int64_t changed = env().sourceRowsChanged();
  std::cout << fmt::format(
      "[e2e] {} source rows changed (sample data + 20 s of OLTP) applied in {:.1f} s from the "
      "first write to caught up: {:.0f} changes/s; final catch-up run {:.1f} s; {} source "
      "transactions applied\n",
      changed, total.count(), changed / total.count(), catchUp.seconds,
      checkpoint->appliedTransactions);
  RecordProperty("source_rows_changed", std::to_string(changed));
  RecordProperty("changes_per_second", fmt::format("{:.0f}", changed / total.count()));
}

}  // namespace
}  // namespace pgmorph::e2e
