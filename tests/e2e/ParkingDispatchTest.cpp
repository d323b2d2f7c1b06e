// The dispatch example with all its warts, under the OLTP workload, through `pgmorph follow`
// and through `pgmorph run` (snapshot, then follow): pgmorph never stops; the target equals
// the mapped source minus exactly the rows that must be parked (and with the references it had
// to write as NULL), and the parked set equals the one computed independently in SQL from the
// source. Then the source is fixed (missing recipients inserted, e-mails and JSON corrected):
// the parked rows drain to zero by themselves and the target equals the full mapped source.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/ParkingExpectation.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

std::size_t countKind(const std::vector<std::string>& rows, const std::string& prefix) {
  return static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [&](const std::string& r) { return r.rfind(prefix, 0) == 0; }));
}

class ParkingDispatchTest : public DispatchE2eTest {
 protected:
  void TearDown() override {
    if (HasFailure() && run_)
      std::cerr << "---- " << run_->commandLine() << " ----\n" << run_->stderrText() << "\n";
    run_.reset();  // killed and reaped before the environment drops the databases
    DispatchE2eTest::TearDown();
  }

  void loadSampleWithWarts() {
    env().source().psqlFile(env().sourceDb(),
                            test::sourceDir() + "/deploy/examples/dispatch/sample-data.sql",
                            {{"scale", "1"}, {"warts", "1"}});
  }

  // The workload corrects e-mails of users 1..400 as it goes (it may well fix every bad one of
  // the sample), so a few more warts of that kind arrive after it, out of its reach: users the
  // target refuses, a doctor of one, that doctor's patient and order, a message to another.
  void addLateWarts() {
    env().connectSource().exec(R"(
      INSERT INTO dispatch_user (id, email, first_name, last_name, office_id, is_active)
      VALUES (5001, 'five thousand one', 'Bad', 'Mail', 1, 1),
             (5002, 'five.thousand.two@nowhere', 'Bad', 'Mail', 1, 1);
      INSERT INTO dispatch_doctor (id, user_id, office_id, license_no) VALUES (5001, 5001, 1, 'L');
      INSERT INTO dispatch_patient (id, doctor_id, office_id, first_name, last_name)
      VALUES (9001, 5001, 1, 'Late', 'Patient');
      INSERT INTO dispatch_instruction (patient_id, doctor_id, status, price, notes)
      VALUES (9001, 5001, 1, 10.00, 'late order');
      INSERT INTO dispatch_notification (recipient_id, template, template_context)
      VALUES (5002, 'order_shipped', '{"late": true}'))");
  }

  // `pgmorph run` (snapshot if none, then follow), owned by the fixture.
  ChildProcess& startRun() {
    run_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{PGMORPH_BINARY, "run", "-c", env().configPath(), "--log-level",
                                 "info", "--progress-interval", "2"},
        env().workDir() + "/run");
    return *run_;
  }

  // After the stream has caught up: parked set and target as expected; then the source is
  // fixed and everything drains. `log` is the stderr of the run that streamed the load.
  void expectParkedExactlyThenDrained(const std::string& log) {
    PgConnection source = env().connectSource();
    PgConnection target = env().connectTarget();
    ParkingExpectation expectation(source, env().idNamespace());
    const auto& expected = expectation.expected();
    // The warts are really there: refused users, their doctor, the NULLed references of that
    // doctor's patients and orders, malformed and orphan messages.
    EXPECT_GT(countKind(expected, "refused|public.profiles"), 0u);
    EXPECT_GT(countKind(expected, "missing_parent|public.doctors"), 0u);
    EXPECT_GT(countKind(expected, "null_reference|public.patients"), 0u);
    EXPECT_GT(countKind(expected, "null_reference|public.orders"), 0u);
    EXPECT_GT(countKind(expected, "unconvertible|public.system_messages"), 0u);
    EXPECT_GT(countKind(expected, "missing_parent|public.system_messages"), 100u);

    auto actual = ParkingExpectation::actual(target, env().stateSchema(), env().pipeline());
    EXPECT_EQ(ParkingExpectation::difference(expected, actual), "");

    ComparisonReport report =
        compareTargetWithProjection(source, target, expectation.projection(), env().idNamespace());
    ASSERT_GE(report.expectedRows(), 24000u) << report.str();
    EXPECT_TRUE(report.equal()) << "target differs from the projection minus the parked rows:\n"
                                << report.str();
    // The progress lines and the summary count per table.
    EXPECT_NE(log.find("per table (writes applied/changes filtered/parked"), std::string::npos);
    EXPECT_NE(log.find("dispatch_notification "), std::string::npos);
    std::cout << fmt::format(
        "[e2e] parked after the load: {} rows ({} refused, {} waiting for a parent, {} NULL "
        "references, {} unconvertible)\n",
        actual.size(), countKind(actual, "refused"), countKind(actual, "missing_parent"),
        countKind(actual, "null_reference"), countKind(actual, "unconvertible"));

    // Fix the source: what was parked applies by itself as the fixes stream in.
    ParkingExpectation::fixSource(source);
    RunResult drained = env().runFollowUntilCaughtUp();
    ASSERT_EQ(drained.exitStatus, 0) << drained.stderrText;
    auto left = ParkingExpectation::actual(target, env().stateSchema(), env().pipeline());
    EXPECT_TRUE(left.empty()) << left.size() << " rows still parked, e.g. " << left.front();
    ComparisonReport full = env().compareWithProjection();
    EXPECT_TRUE(full.equal()) << "target differs from the full projection after the fixes:\n"
                              << full.str();
  }

  std::unique_ptr<ChildProcess> run_;
};

TEST_F(ParkingDispatchTest, FollowParksExactlyTheWartsUnderLoadAndDrainsOnceTheSourceIsFixed) {
  ChildProcess& pgmorph = env().startFollow();
  env().waitForSlot(pgmorph, /*streaming=*/true);
  loadSampleWithWarts();
  ChildProcess& writer = env().startWriter(15s);
  env().finishWriter(writer);
  addLateWarts();
  ASSERT_TRUE(pgmorph.running()) << "pgmorph stopped on a bad row; status "
                                 << pgmorph.exitStatus().value_or(-1);
  EXPECT_EQ(env().stopGracefully(pgmorph), 0);
  RunResult caughtUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(caughtUp.exitStatus, 0) << caughtUp.stderrText;
  expectParkedExactlyThenDrained(pgmorph.stderrText());
}

TEST_F(ParkingDispatchTest, SnapshotAndFollowParkExactlyTheWartsUnderLoadAndDrain) {
  // The warts are in the data the snapshot copies; the workload runs during the snapshot and
  // the stream that follows it.
  loadSampleWithWarts();
  ChildProcess& writer = env().startWriter(20s, /*ratePerSecond=*/200);
  ChildProcess& pgmorph = startRun();
  env().finishWriter(writer);
  addLateWarts();
  ASSERT_TRUE(pgmorph.running()) << "pgmorph stopped; status " << pgmorph.exitStatus().value_or(-1)
                                 << "\n"
                                 << pgmorph.stderrText();
  EXPECT_EQ(env().stopGracefully(pgmorph), 0);
  RunResult caughtUp = env().runFollowUntilCaughtUp();
  ASSERT_EQ(caughtUp.exitStatus, 0) << caughtUp.stderrText;
  expectParkedExactlyThenDrained(pgmorph.stderrText() + caughtUp.stderrText);
}

}  // namespace
}  // namespace pgmorph::e2e
