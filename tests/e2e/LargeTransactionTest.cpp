// One source transaction of 1,000,000 rows, applied by the real binary: every row lands, the
// checkpoint moves past that commit, and pgmorph's memory
// stays flat — its peak resident set is read from /proc/<pid>/status (VmHWM) while it runs,
// checked again after it exits with getrusage(RUSAGE_CHILDREN) (the largest peak of every
// child this test process has reaped: an upper bound of pgmorph's), and printed.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"

namespace pgmorph::e2e {
namespace {

constexpr long kRows = 1'000'000;
constexpr long kLimitKiB = 256 * 1024;

// VmHWM of a running process in KiB, or -1 once it is gone.
long peakResidentKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

TEST_F(DispatchE2eTest, AMillionRowSourceTransactionIsAppliedWithFlatMemory) {
  // Creates the slot; nothing to apply yet.
  RunResult first = env().runFollowUntilCaughtUp();
  ASSERT_EQ(first.exitStatus, 0) << first.stderrText;
  auto before = env().checkpoint();
  ASSERT_TRUE(before);

  // One INSERT statement: one source transaction of a million rows (offices: no parent on
  // the target, so every row must land).
  PgConnection source = env().connectSource();
  auto t0 = std::chrono::steady_clock::now();
  source.exec(fmt::format(
      "INSERT INTO dispatch_office (name, address, country, created_at)"
      " SELECT 'Office ' || g, g || ' Main Street', (ARRAY['US','JP','TH','IN','AU'])[1 + g % 5],"
      "        timestamp '2015-01-01' + g * interval '1 minute'"
      " FROM generate_series(1, {}) g",
      kRows));
  Lsn committed = env().sourceWalLsn();
  std::chrono::duration<double> inserted = std::chrono::steady_clock::now() - t0;
  env().flushSourceWal();

  auto t1 = std::chrono::steady_clock::now();
  ChildProcess& p = env().startFollow({"--until-caught-up"});
  long peakKiB = 0;
  std::optional<int> status;
  auto deadline = t1 + std::chrono::seconds(150);
  while (!(status = p.waitFor(std::chrono::milliseconds(50)))) {
    peakKiB = std::max(peakKiB, peakResidentKiB(p.pid()));
    if (std::chrono::steady_clock::now() > deadline) {
      p.kill9();
      FAIL() << "pgmorph did not apply the transaction within 150 s; stderr:\n" << p.stderrText();
    }
  }
  std::chrono::duration<double> applied = std::chrono::steady_clock::now() - t1;
  ASSERT_EQ(*status, 0) << p.stderrText();
  rusage children{};
  ::getrusage(RUSAGE_CHILDREN, &children);  // ru_maxrss in KiB on Linux

  PgConnection target = env().connectTarget();
  EXPECT_EQ(std::string(target.exec("SELECT count(*) FROM offices").value(0, 0)),
            std::to_string(kRows));
  EXPECT_EQ(std::string(target
                            .exec("SELECT count(*) FROM offices WHERE name = 'Office 777777' AND "
                                  "address = '777777 Main Street' AND country_code = 'TH'")
                            .value(0, 0)),
            "1");
  auto after = env().checkpoint();
  ASSERT_TRUE(after);
  EXPECT_GE(after->lsn, committed);
  // The million rows, the WAL flush's empty transaction, and whatever else committed in the
  // source database meanwhile (the count of offices above is what proves nothing was doubled).
  EXPECT_GE(after->appliedTransactions, before->appliedTransactions + 2);

  std::cout << fmt::format(
                   "[e2e] 1,000,000-row source transaction: inserted in {:.1f} s, applied in "
                   "{:.1f} s ({:.0f} rows/s); pgmorph peak RSS {:.1f} MB (VmHWM sampled every "
                   "50 ms), largest child peak {:.1f} MB (getrusage)",
                   inserted.count(), applied.count(), kRows / applied.count(), peakKiB / 1024.0,
                   children.ru_maxrss / 1024.0)
            << std::endl;
  ASSERT_GT(peakKiB, 0) << "VmHWM was never read: the run ended before the first sample";
  EXPECT_LT(peakKiB, kLimitKiB);
  EXPECT_LT(children.ru_maxrss, kLimitKiB);
}

}  // namespace
}  // namespace pgmorph::e2e
