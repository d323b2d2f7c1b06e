// Self-healing and exit codes (README: Exit codes): a database restarted under `follow` is one
// outage in the log ("target lost" ... "target back after"), and follow resumes from its
// checkpoint; a wrong password is not an outage: follow exits 2 at once, saying what to fix,
// without the password; PostgreSQL's NOTICEs never reach pgmorph's stderr; a usage error
// exits 2.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "tests/e2e/PgmorphProcessTest.h"
#include "tests/e2e/Poll.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int countOf(const std::string& text, std::string_view what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class SelfHealingTest : public PgmorphProcessTest {
 protected:
  SelfHealingTest() : PgmorphProcessTest("healing") {}

  // The environment's pipeline file with the target's conninfo replaced.
  std::string configWithTarget(const std::string& conninfo) {
    std::ifstream in(env().configPath());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto at = text.find(env().targetConninfo());
    if (at == std::string::npos) throw std::runtime_error("no target conninfo in " + text);
    text.replace(at, env().targetConninfo().size(), conninfo);
    std::string path = env().workDir() + "/wrong-password.yaml";
    writePipelineFile(path, text);
    return path;
  }
};

TEST_F(SelfHealingTest, AWrongTargetPasswordExitsTwoAtOnceSayingWhatToFix) {
  env().target().requirePassword("pgmorph_pw_e2e", "the-right-one");
  env().target().psql(env().targetDb(),
                      "GRANT ALL ON SCHEMA public TO pgmorph_pw_e2e; "
                      "GRANT ALL ON ALL TABLES IN SCHEMA public TO pgmorph_pw_e2e");
  std::string config = configWithTarget(
      env().target().conninfoAs("pgmorph_pw_e2e", "Wr0ngSecret", env().targetDb()));
  ChildProcess follow({PGMORPH_BINARY, "follow", "-c", config, "--log-level", "info"},
                      env().workDir() + "/wrong-password-follow");
  auto started = Clock::now();
  auto status = follow.waitFor(20s);
  ASSERT_TRUE(status) << "follow kept retrying a wrong password:\n" << follow.stderrText();
  std::string err = follow.stderrText();
  EXPECT_EQ(*status, 2) << err;
  EXPECT_LT(Clock::now() - started, 10s) << err;
  EXPECT_NE(err.find("target"), std::string::npos) << err;
  EXPECT_NE(err.find("check the password in target.conninfo"), std::string::npos) << err;
  EXPECT_EQ(err.find("Wr0ngSecret"), std::string::npos) << err;
  EXPECT_EQ(err.find("retrying"), std::string::npos) << err;
}

TEST_F(SelfHealingTest, ATargetRestartedWhileFollowingIsOneOutageAndFollowResumes) {
  ChildProcess& follow = startPgmorph("follow");
  env().waitForSlot(follow, /*streaming=*/true);
  env().target().restart(/*immediate=*/true);
  // The loss shows when pgmorph next writes to the target.
  env().loadSampleData();
  env().flushSourceWal();
  Lsn goal = env().sourceWalLsn();
  bool applied = pollUntil(180s, [&] {
    auto cp = env().checkpoint();
    return (cp && cp->lsn >= goal) || !follow.running();
  });
  ASSERT_TRUE(follow.running()) << "follow ended after the target restart";
  ASSERT_TRUE(applied) << "follow did not resume after the target restart";
  EXPECT_EQ(env().stopGracefully(follow), 0);
  std::string err = follow.stderrText();
  EXPECT_EQ(countOf(err, "target lost: "), 1) << err;
  EXPECT_EQ(countOf(err, "target back after "), 1) << err;
  EXPECT_EQ(countOf(err, " lost: "), 1) << "one outage, one line: " << err;
  auto at = err.find("target lost: ");
  if (at != std::string::npos) {
    std::string line = err.substr(at, err.find('\n', at) - at);
    EXPECT_TRUE(line.ends_with("; retrying the stream with backoff")) << "one line: " << line;
  }
  EXPECT_EQ(countOf(err, "retrying the stream in"), 0) << "retries are logged at debug: " << err;
}

TEST_F(SelfHealingTest, PostgresNoticesNeverReachStderr) {
  // The second run finds pgmorph's state tables there: CREATE ... IF NOT EXISTS says NOTICE.
  for (int run = 1; run <= 2; ++run) {
    RunResult result = env().runFollowUntilCaughtUp();
    ASSERT_EQ(result.exitStatus, 0) << result.stderrText;
    EXPECT_EQ(result.stderrText.find("NOTICE"), std::string::npos)
        << "run " << run << ": " << result.stderrText;
    EXPECT_EQ(result.stderrText.find("already exists, skipping"), std::string::npos)
        << "run " << run << ": " << result.stderrText;
  }
}

TEST_F(SelfHealingTest, AUsageErrorExitsTwoWithCli11sMessage) {
  struct Case {
    std::vector<std::string> argv;
    int status;
  };
  std::vector<Case> cases = {
      {{PGMORPH_BINARY, "follow"}, 2},           // -c missing (106)
      {{PGMORPH_BINARY, "no-such-command"}, 2},  // (109)
      {{PGMORPH_BINARY, "follow", "-c", env().configPath(), "--jobs", "x"}, 2},
      {{PGMORPH_BINARY, "--help"}, 0},
  };
  int i = 0;
  for (auto& c : cases) {
    ChildProcess p(c.argv, env().workDir() + "/usage-" + std::to_string(i++));
    auto status = p.waitFor(20s);
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, c.status) << p.commandLine() << "\n" << p.stderrText() << p.stdoutText();
    if (c.status == 2) {
      EXPECT_FALSE(p.stderrText().empty()) << p.commandLine();
    }
  }
}

}  // namespace
}  // namespace pgmorph::e2e
