// `follow --until-caught-up` must apply every transaction that had committed on the source
// when it started — also commits made with synchronous_commit=off, whose WAL can still sit in
// the server's buffers: pg_current_wal_lsn() (the write position) does not cover them yet,
// pg_current_wal_insert_lsn() does. The other e2e tests flush the source's WAL before each
// catch-up run (DispatchEnvironment::flushSourceWal); this one deliberately does not.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/SlowWalWriter.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

TEST_F(DispatchE2eTest, UntilCaughtUpAppliesAsynchronousCommitsMadeBeforeItStarted) {
  RunResult create = env().runFollowUntilCaughtUp();  // creates the slot
  ASSERT_EQ(create.exitStatus, 0) << create.stderrText;

  SlowWalWriter slow(env().source(), "3s");
  {
    PgConnection source = env().connectSource();
    source.exec("SET synchronous_commit = off");
    for (int i = 1; i <= 20; ++i) {
      std::string name = "Async office " + std::to_string(i);
      source.execParams("INSERT INTO dispatch_office (name, created_at) VALUES ($1, '2024-01-01')",
                        {std::optional<std::string_view>(name)});
    }
    // For the record: the commits are above the write position (what pg_current_wal_lsn()
    // reports) unless the WAL writer happened to run just now.
    auto res = source.exec("SELECT pg_current_wal_lsn()::text, pg_current_wal_insert_lsn()::text");
    std::cout << "[e2e] source write position " << res.value(0, 0) << ", insert position "
              << res.value(0, 1) << " when pgmorph starts\n";
  }
  RunResult run =
      env().runFollowUntilCaughtUp(std::chrono::seconds(120), /*flushSourceFirst=*/false);
  ASSERT_EQ(run.exitStatus, 0) << run.stderrText;

  PgConnection target = env().connectTarget();
  EXPECT_EQ(std::string(target.exec("SELECT count(*) FROM offices").value(0, 0)), "20")
      << "--until-caught-up stopped before transactions that had committed before it started "
         "(asynchronous commits still in the source's WAL buffers are above "
         "pg_current_wal_lsn(); pg_current_wal_insert_lsn() covers them):\n"
      << run.stderrText;
}

}  // namespace
}  // namespace pgmorph::e2e
