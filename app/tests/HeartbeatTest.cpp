// Heartbeat without a database: which decoded messages are this pipeline's heartbeats (others
// keep being ignored), the position and source time one carries, and the stall check's
// silence while nothing is outstanding. Writing heartbeats and their round trip are covered
// end to end (tests/metrics/HeartbeatEndToEndTest.cpp).
#include "app/follow/Heartbeat.h"

#include <gtest/gtest.h>

namespace pgmorph {
namespace {

using namespace std::chrono_literals;

Change message(std::string_view prefix, std::string_view content, bool transactional,
               Lsn lsn = Lsn()) {
  Change c;
  c.kind = ChangeKind::Message;
  c.transactional = transactional;
  c.lsn = lsn;
  c.setPrefix(prefix);
  c.setContent(content);
  return c;
}

TEST(Heartbeat, OnlyThisPipelinesNonTransactionalMessagesAreHeartbeats) {
  Heartbeat hb("orders", "pgmorph_orders", 300ms);
  EXPECT_EQ(hb.prefix(), "pgmorph_heartbeat:orders");
  auto now = Heartbeat::Clock::now();
  EXPECT_FALSE(hb.onMessage(message("other_app", "1", false), Lsn(100), now));
  EXPECT_FALSE(hb.onMessage(message("pgmorph_heartbeat:orders2", "1", false), Lsn(100), now));
  EXPECT_FALSE(hb.onMessage(message("pgmorph_heartbeat:orders", "1", true), Lsn(100), now));
  Change insert = message("pgmorph_heartbeat:orders", "1", false);
  insert.kind = ChangeKind::Insert;
  EXPECT_FALSE(hb.onMessage(insert, Lsn(100), now));

  auto beat = hb.onMessage(message("pgmorph_heartbeat:orders", "1764643200123456", false, Lsn(500)),
                           Lsn(400), now);
  ASSERT_TRUE(beat);
  EXPECT_EQ(beat->lsn, Lsn(500));  // the change's own LSN first
  EXPECT_EQ(beat->sourceMicros, 1764643200123456);
  EXPECT_LT(beat->roundTripSeconds, 0);  // not written by this run

  auto fromHeader = hb.onMessage(message("pgmorph_heartbeat:orders", "junk", false), Lsn(400), now);
  ASSERT_TRUE(fromHeader);
  EXPECT_EQ(fromHeader->lsn, Lsn(400));
  EXPECT_EQ(fromHeader->sourceMicros, 0);  // no time: the checkpoint keeps its own
}

TEST(Heartbeat, NoStallWithoutOutstandingHeartbeatsAndNoneWhenOff) {
  Heartbeat hb("p", "pgmorph_p", 100ms);
  EXPECT_TRUE(hb.enabled());
  EXPECT_EQ(hb.checkStall(Heartbeat::Clock::now() + 1h, Lsn(1)), "");
  Heartbeat off("p", "pgmorph_p", 0ms);
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(off.checkStall(Heartbeat::Clock::now() + 1h, Lsn(1)), "");
}

}  // namespace
}  // namespace pgmorph
