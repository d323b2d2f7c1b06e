// ProgressCadence: every tick while changes flow; when idle, one line, then one a minute, then
// one every five minutes after ten idle minutes; the idle notice once per process.
#include "app/follow/ProgressCadence.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

using Decision = ProgressCadence::Decision;
using std::chrono::seconds;

TEST(ProgressCadence, EveryTickWhileChangesFlow) {
  auto t0 = ProgressCadence::Clock::time_point{};
  ProgressCadence cadence(t0);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(cadence.tick(true, t0 + seconds(5 * i)), Decision::Log);
}

TEST(ProgressCadence, IdleLinesComeEveryMinuteThenEveryFiveMinutes) {
  auto t0 = ProgressCadence::Clock::time_point{};
  ProgressCadence cadence(t0);
  EXPECT_EQ(cadence.tick(true, t0 + seconds(5)), Decision::Log);
  // The first quiet tick: its line, and the notice.
  EXPECT_EQ(cadence.tick(false, t0 + seconds(10)), Decision::LogAndAnnounceIdle);
  int lines = 0;
  // The first ten idle minutes at a 5 s tick: one line a minute (at 1, 2, ... 9 minutes).
  for (int s = 15; s < 10 + 600; s += 5)
    if (cadence.tick(false, t0 + seconds(s)) != Decision::Skip) ++lines;
  EXPECT_EQ(lines, 9);
  // The next ten minutes: one line every five (5 minutes after the last one, then 10).
  lines = 0;
  for (int s = 610; s <= 10 + 1200; s += 5)
    if (cadence.tick(false, t0 + seconds(s)) != Decision::Skip) ++lines;
  EXPECT_EQ(lines, 2);
  // A change: back to every tick at once; quiet again: a line, without a second notice.
  EXPECT_EQ(cadence.tick(true, t0 + seconds(1215)), Decision::Log);
  EXPECT_EQ(cadence.tick(false, t0 + seconds(1220)), Decision::Log);
  EXPECT_EQ(cadence.tick(false, t0 + seconds(1225)), Decision::Skip);
}

}  // namespace
}  // namespace pgmorph
