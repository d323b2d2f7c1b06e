// What the snapshot says to the operator: progress lines that never read over 100%, the
// parked rows in its summary per table and reason, and a stop message that says what the
// next run really does.
#include <gtest/gtest.h>

#include "app/snapshot/ParkedSummary.h"
#include "app/snapshot/SnapshotLeftovers.h"
#include "app/snapshot/SnapshotProgress.h"

namespace pgmorph {
namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(SnapshotMessagesTest, ProgressPastAStaleEstimateShowsTheCountNotAPercentage) {
  std::string line = SnapshotProgress::copyingLine("public.orders", 12, 908544, 90000, 5000);
  EXPECT_FALSE(has(line, "%")) << line;
  EXPECT_TRUE(has(line, "908544 rows, estimate ~90000 exceeded")) << line;
  EXPECT_TRUE(has(line, "ETA unknown")) << line;

  std::string within = SnapshotProgress::copyingLine("public.orders", 12, 45000, 90000, 5000);
  EXPECT_TRUE(has(within, " 50%")) << within;
  EXPECT_TRUE(has(within, "45000 / ~90000")) << within;
  EXPECT_TRUE(has(within, "ETA 0:09")) << within;

  std::string none = SnapshotProgress::copyingLine("public.orders", 12, 10, 0, 5);
  EXPECT_FALSE(has(none, "%")) << none;
  EXPECT_TRUE(has(none, "ETA unknown")) << none;
}

TEST(SnapshotMessagesTest, TheSummaryNamesParkedRowsPerTableAndReason) {
  std::vector<ParkedStore::TableCount> counts = {
      {"public.profiles", ParkKind::MissingParent, 104},
      {"public.profiles", ParkKind::Refused, 1100},
      {"public.system_messages", ParkKind::MissingParent, 61753},
  };
  auto lines = parkedSummaryLines(counts, "dispatch");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(has(lines[0], "parked: 62,957 rows of pipeline 'dispatch'")) << lines[0];
  EXPECT_TRUE(has(lines[0], "pgmorph parked list")) << lines[0];
  EXPECT_EQ(lines[1], "  public.profiles 1,204 (missing_parent 104, refused 1,100)");
  EXPECT_EQ(lines[2], "  public.system_messages 61,753 (missing_parent 61,753)");
  EXPECT_EQ(
      parkedSummaryLines({}, "dispatch"),
      std::vector<std::string>{"parked: none (every row the snapshot read is on the target)"});
  EXPECT_EQ(withThousands(999), "999");
  EXPECT_EQ(withThousands(1000), "1,000");
  EXPECT_EQ(withThousands(3100000), "3,100,000");
}

TEST(SnapshotMessagesTest, AStopSaysTheNextRunStartsOverAndWhatIsLeftBehind) {
  SnapshotLeftovers l;
  l.pipeline = "dispatch";
  l.stateSchema = "pgmorph";
  l.slot = "pgmorph_dispatch";
  l.snapshotInProgress = true;
  l.tasksDone = 3;
  l.tasksTotal = 9;
  l.slotExists = true;
  l.suspended = 4;
  std::string stop = l.stopMessage();
  EXPECT_TRUE(has(stop, "snapshot stopped: 3 of 9 tables copied")) << stop;
  EXPECT_TRUE(has(stop, "the next `pgmorph snapshot` starts over")) << stop;
  EXPECT_TRUE(has(stop, "empties the mapped target tables")) << stop;
  EXPECT_TRUE(has(stop, "cannot be kept")) << stop;
  EXPECT_FALSE(has(stop, "resume")) << stop;
  EXPECT_TRUE(has(stop, "SELECT pg_drop_replication_slot('pgmorph_dispatch')")) << stop;
  EXPECT_TRUE(has(stop, "4 indexes and foreign keys")) << stop;
  EXPECT_TRUE(has(stop, "pgmorph.suspended_ddl")) << stop;

  std::string failed = l.failureMessage();
  EXPECT_TRUE(has(failed, "did not finish (3 of 9 tables copied)")) << failed;
  EXPECT_TRUE(has(failed, "pg_drop_replication_slot")) << failed;
  EXPECT_EQ(SnapshotLeftovers{}.failureMessage(), "");
}

}  // namespace
}  // namespace pgmorph
