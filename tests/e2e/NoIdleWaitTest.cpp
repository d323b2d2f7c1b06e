// `run --until-caught-up` and `follow --until-caught-up` on an idle source end as soon as the
// point is reached, never by waiting out a timer: the status interval and the heartbeat
// interval are set to a minute here (and heartbeats off in the second fixture), and each run
// must end well within that (15 s: far above a normal run's second, far below the interval, so
// only a wait that came back fails, not a slow machine). Not a timed test of speed: the bound
// is a quarter of the interval that a regression would wait for.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/e2e/PgmorphProcessTest.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

constexpr double kBoundSeconds = 15;

class NoIdleWaitTest : public PgmorphProcessTest {
 protected:
  NoIdleWaitTest() : PgmorphProcessTest("idle") {}

  virtual std::string heartbeatMillis() const { return "60000"; }

  std::vector<MappingEdit> mappingEdits() const override {
    return {{"tables:", "apply: { status_interval_ms: 60000 }\nslot: { heartbeat_interval_ms: " +
                            heartbeatMillis() + " }\ntables:"}};
  }

  void catchesUpWithoutWaiting() {
    env().loadSampleData(1);
    auto start = std::chrono::steady_clock::now();
    ChildProcess& run = startPgmorph("run", {"--until-caught-up", "--jobs", "2"});
    ASSERT_EQ(finish(run, 120s), 0) << run.stderrText();
    double runSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(runSeconds, kBoundSeconds)
        << "run --until-caught-up (snapshot of the scale-1 sample, then nothing to apply) waited "
           "for a timer after the snapshot:\n"
        << run.stderrText();

    // WAL that carries no mapped change, then an idle source: the catch-up point is past the
    // checkpoint, and only the server's word (or our own message) can show it is reached.
    env().connectSource().exec(
        "CREATE TABLE idle_unmapped (x int); INSERT INTO idle_unmapped VALUES (1)");
    for (int i = 0; i < 2; ++i) {
      RunResult follow = env().runFollowUntilCaughtUp(std::chrono::seconds(120));
      ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
      EXPECT_LT(follow.seconds, kBoundSeconds)
          << "follow --until-caught-up on an idle source waited for a timer:\n"
          << follow.stderrText;
    }
    ComparisonReport report = env().compareWithProjection();
    EXPECT_TRUE(report.equal()) << report.str();
  }
};

class NoIdleWaitWithoutHeartbeatsTest : public NoIdleWaitTest {
 protected:
  std::string heartbeatMillis() const override { return "0"; }
};

TEST_F(NoIdleWaitTest, UntilCaughtUpEndsWithoutWaitingForTheStatusOrHeartbeatInterval) {
  catchesUpWithoutWaiting();
}

TEST_F(NoIdleWaitWithoutHeartbeatsTest, UntilCaughtUpEndsWithoutWaitingForTheStatusInterval) {
  catchesUpWithoutWaiting();
}

}  // namespace
}  // namespace pgmorph::e2e
