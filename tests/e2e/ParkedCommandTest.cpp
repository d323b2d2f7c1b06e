// `pgmorph parked list|retry|discard` against a target where follow parked a few rows of the
// dispatch example: list shows each with its reason and filters by table, reason and kind;
// retry applies what can land now and counts an attempt on the rest; discard removes what it
// is told to, and says how many.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/Poll.h"
#include "tests/support/PgCluster.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

struct Cli {
  int status = -1;
  std::string output;
};

class ParkedCommandTest : public DispatchE2eTest {
 protected:
  Cli pgmorph(std::vector<std::string> args) {
    std::vector<std::string> argv = {PGMORPH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", env().configPath()});
    Cli out;
    out.status = test::runProcess(argv, &out.output);
    return out;
  }
  std::string parkedId(const std::string& targetTable, const std::string& legacyKey) {
    PgConnection target = env().connectTarget();
    auto res = target.execParams(
        fmt::format("SELECT id FROM {} WHERE target_table = $1 AND legacy_key = $2",
                    target.quoteQualified(env().stateSchema(), "parked")),
        {targetTable, legacyKey});
    return res.rows() == 1 ? std::string(res.value(0, 0)) : std::string("<none>");
  }
  std::int64_t parkedCount() {
    PgConnection target = env().connectTarget();
    return std::stoll(
        std::string(target
                        .exec(fmt::format("SELECT count(*) FROM {}",
                                          target.quoteQualified(env().stateSchema(), "parked")))
                        .value(0, 0)));
  }
};

TEST_F(ParkedCommandTest, ListRetryAndDiscardParkedRows) {
  RunResult create = env().runFollowUntilCaughtUp();  // creates the slot
  ASSERT_EQ(create.exitStatus, 0) << create.stderrText;
  PgConnection source = env().connectSource();
  source.exec(R"(
    INSERT INTO dispatch_office (id, name, country) VALUES (1, 'Main', 'US');
    INSERT INTO dispatch_user (id, email, office_id) VALUES (1, 'one@example.com', 1),
                                                         (2, 'two at example', 1);
    INSERT INTO dispatch_notification (id, recipient_id, template, template_context)
    VALUES (10, 7, 'order_shipped', '{"order": 10}'),
           (11, 8, 'order_shipped', '{"order": 11}'),
           (12, 1, 'order_shipped', '{"order": 12, "note": "unterminated'))");
  RunResult follow = env().runFollowUntilCaughtUp();
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  ASSERT_EQ(parkedCount(), 4) << follow.stderrText;

  Cli list = pgmorph({"parked", "list", "--wide"});
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("4 parked rows shown"), std::string::npos) << list.output;
  for (const char* needle :
       {"refused", "missing_parent", "unconvertible", "public.system_messages", "public.profiles",
        "dispatch_notification", "violates check constraint", "not valid JSON", "MISSING PARENT"})
    EXPECT_NE(list.output.find(needle), std::string::npos) << needle << " not in:\n" << list.output;
  // The missing parent as the legacy side names it, beside its target id.
  EXPECT_NE(list.output.find("(dispatch_user 7)"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("(dispatch_user 8)"), std::string::npos) << list.output;
  Cli byTable = pgmorph({"parked", "list", "--table", "profiles"});
  EXPECT_NE(byTable.output.find("1 parked row shown (1 refused)"), std::string::npos)
      << byTable.output;
  Cli byReason = pgmorph({"parked", "list", "--reason", "CHECK CONSTRAINT"});
  EXPECT_NE(byReason.output.find("1 parked row shown"), std::string::npos) << byReason.output;
  Cli byKind = pgmorph({"parked", "list", "--kind", "missing_parent"});
  EXPECT_NE(byKind.output.find("2 parked rows shown"), std::string::npos) << byKind.output;

  // A DBA creates recipient 7 on the target by hand; retrying that one message applies it.
  PgConnection target = env().connectTarget();
  std::string user7(source
                        .execParams("SELECT uuid_generate_v5($1::uuid, 'dispatch_user:7')::text",
                                    {env().idNamespace()})
                        .value(0, 0));
  target.execParams("INSERT INTO profiles (id, is_active, joined_at) VALUES ($1, true, now())",
                    {user7});
  std::string message10 = parkedId("public.system_messages", "10");
  Cli one = pgmorph({"parked", "retry", "--id", message10});
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find("retried 1 parked row: 1 applied, 0 still parked"), std::string::npos)
      << one.output;
  EXPECT_EQ(target.exec("SELECT count(*) FROM system_messages WHERE legacy_notification_id = 10")
                .value(0, 0),
            "1");
  EXPECT_EQ(parkedCount(), 3);

  Cli unknown = pgmorph({"parked", "retry", "--id", "999999"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("no parked row with id 999999"), std::string::npos)
      << unknown.output;

  Cli all = pgmorph({"parked", "retry", "--all"});
  ASSERT_EQ(all.status, 0) << all.output;
  EXPECT_NE(all.output.find("retried 3 parked rows: 0 applied, 3 still parked"), std::string::npos)
      << all.output;
  EXPECT_EQ(target
                .exec(fmt::format("SELECT min(attempts) FROM {}",
                                  target.quoteQualified(env().stateSchema(), "parked")))
                .value(0, 0),
            "2");

  Cli discard = pgmorph({"parked", "discard", "--table", "system_messages"});
  ASSERT_EQ(discard.status, 0) << discard.output;
  EXPECT_NE(discard.output.find("discarded 2 parked rows (2 public.system_messages)"),
            std::string::npos)
      << discard.output;
  EXPECT_EQ(parkedCount(), 1);
  Cli last = pgmorph({"parked", "discard", "--id", parkedId("public.profiles", "2")});
  EXPECT_NE(last.output.find("discarded 1 parked row"), std::string::npos) << last.output;
  EXPECT_EQ(parkedCount(), 0);

  Cli bad = pgmorph({"parked", "discard"});
  EXPECT_NE(bad.status, 0) << "discard without --id or --table must refuse";
}

// `parked retry --all` works in batches that commit, and a SIGINT in the middle stops it after
// the batch in flight: what was applied stays applied (and unparked), the rest stays parked,
// exit 0; a second retry finishes. Rows whose parent is still missing are checked in bulk
// before writing and never sent, so the target's server log gets no ERROR for them.
TEST_F(ParkedCommandTest, RetryAllWorksInBatchesThatCommitAndStopsCleanlyOnSigint) {
  RunResult create = env().runFollowUntilCaughtUp();  // creates the slot
  ASSERT_EQ(create.exitStatus, 0) << create.stderrText;
  PgConnection source = env().connectSource();
  // 2,000 messages to users 7001..7010 (created on the target below) and 1,000 to users
  // 8001..8010 (never created): all parked, missing their recipient.
  source.exec(R"(
    INSERT INTO dispatch_office (id, name, country) VALUES (1, 'Main', 'US');
    INSERT INTO dispatch_notification (id, recipient_id, template, template_context)
    SELECT g, CASE WHEN g < 3000 THEN 7001 + g % 10 ELSE 8001 + g % 10 END, 'order_shipped',
           '{"order": 1}'
    FROM generate_series(1000, 3999) g)");
  RunResult follow = env().runFollowUntilCaughtUp();
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  ASSERT_EQ(parkedCount(), 3000) << follow.stderrText;
  // Said once for the table, not per row (ParkedStore::park).
  EXPECT_NE(follow.stderrText.find("public.system_messages parks rows"), std::string::npos)
      << follow.stderrText;

  PgConnection target = env().connectTarget();
  target.exec(fmt::format(
      "INSERT INTO profiles (id, is_active, joined_at) SELECT id::uuid, true, now() FROM "
      "unnest('{{{}}}'::text[]) AS id",
      std::string(source
                      .execParams("SELECT string_agg(uuid_generate_v5($1::uuid, 'dispatch_user:' "
                                  "|| g)::text, ',') FROM generate_series(7001, 7010) g",
                                  {env().idNamespace()})
                      .value(0, 0))));
  std::string logPath = env().target().dir() + "/server.log";
  auto errorLines = [&](std::streamoff from) {
    std::ifstream in(logPath);
    in.seekg(from);
    std::string line;
    int n = 0;
    while (std::getline(in, line))
      if (line.find("ERROR:") != std::string::npos) ++n;
    return n;
  };
  std::streamoff logStart = std::ifstream(logPath, std::ios::ate).tellg();

  // The test steps the retry through the parked rows' lock (ParkedStore::lock), which each
  // batch takes first: it holds the lock before the retry starts, lets exactly the first batch
  // through (PostgreSQL grants a lock to its waiters in order), and sends SIGINT while the
  // retry waits at the start of its second batch; that batch must still commit, then stop.
  PgConnection blocker = env().connectTarget();
  const std::string lockName =
      fmt::format("pgmorph parked {}.{}", env().stateSchema(), env().pipeline());
  auto takeLock = [&] {
    blocker.exec("BEGIN");
    blocker.execParams("SELECT pg_advisory_xact_lock(hashtext($1))", {lockName});
  };
  auto retryWaits = [&] {
    return target
               .exec(
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                   " AND database = (SELECT oid FROM pg_database"
                   " WHERE datname = current_database())")
               .value(0, 0) != "0";
  };
  takeLock();
  std::vector<std::string> argv = {PGMORPH_BINARY, "parked", "retry", "--all",
                                   "--batch",      "100",    "-c",    env().configPath(),
                                   "--log-level",  "info"};
  ChildProcess retry(argv, env().workDir() + "/parked-retry-1");
  ASSERT_TRUE(pollUntil(
      60s, [&] { return !retry.running() || retryWaits(); }, 10ms));
  ASSERT_TRUE(retry.running()) << retry.stdoutText() << retry.stderrText();
  blocker.exec("COMMIT");  // the first batch goes (its lock was asked first) ...
  takeLock();              // ... and this waits until it has committed
  ASSERT_EQ(parkedCount(), 2900);
  ASSERT_TRUE(pollUntil(
      60s, [&] { return !retry.running() || retryWaits(); }, 10ms));
  retry.signal(SIGINT);
  std::this_thread::sleep_for(300ms);
  blocker.exec("COMMIT");  // the second batch goes, commits, and the retry stops
  auto status = retry.waitFor(60s);
  ASSERT_TRUE(status.has_value()) << retry.stderrText();
  EXPECT_EQ(*status, 0) << retry.stderrText();
  std::string out = retry.stdoutText();
  EXPECT_NE(out.find("Stopped on request after"), std::string::npos) << out << retry.stderrText();
  std::int64_t left = parkedCount();
  EXPECT_EQ(left, 2800) << out;  // the batch in flight at the signal committed; no other
  EXPECT_NE(out.find("Stopped on request after 200 of 3000 entries"), std::string::npos) << out;
  std::int64_t landed = std::stoll(std::string(
      target.exec("SELECT count(*) FROM system_messages WHERE legacy_notification_id >= 1000")
          .value(0, 0)));
  EXPECT_EQ(landed + left, 3000) << "applied rows are on the target and no longer parked";

  Cli rest = pgmorph({"parked", "retry", "--all", "--batch", "100"});
  ASSERT_EQ(rest.status, 0) << rest.output;
  EXPECT_EQ(parkedCount(), 1000) << rest.output;  // the ones whose recipient is still missing
  EXPECT_EQ(target.exec("SELECT count(*) FROM system_messages WHERE legacy_notification_id >= 1000")
                .value(0, 0),
            "2000");
  EXPECT_NE(rest.output.find("1000 still miss their parent (checked before writing, not sent)"),
            std::string::npos)
      << rest.output;
  // Parents checked in bulk before writing: no ERROR in the target's log for those rows.
  EXPECT_EQ(errorLines(logStart), 0) << "see " << logPath;
}

// The measurement of the issue: `parked retry --all` over many parked rows (90% whose parent
// now exists, 10% whose parent is still missing). Skipped unless PGMORPH_BENCH_PARKED_RETRY
// gives the row count (e.g. 60000); prints the retry's output and its wall time.
TEST_F(ParkedCommandTest, BenchRetryOfManyParkedRows) {
  const char* rowsText = std::getenv("PGMORPH_BENCH_PARKED_RETRY");
  if (!rowsText) GTEST_SKIP() << "set PGMORPH_BENCH_PARKED_RETRY=60000 to measure";
  const int rows = std::stoi(rowsText);
  RunResult create = env().runFollowUntilCaughtUp();
  ASSERT_EQ(create.exitStatus, 0) << create.stderrText;
  PgConnection source = env().connectSource();
  source.exec("INSERT INTO dispatch_office (id, name, country) VALUES (1, 'Main', 'US')");
  source.exec(
      fmt::format("INSERT INTO dispatch_notification (id, recipient_id, template, template_context)"
                  " SELECT g, CASE WHEN g % 10 = 0 THEN 80001 + g % 100 ELSE 70001 + g % 100 END,"
                  " 'order_shipped', '{{\"order\": 1}}' FROM generate_series(1, {}) g",
                  rows));
  auto parkStart = std::chrono::steady_clock::now();
  RunResult follow = env().runFollowUntilCaughtUp();
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  double parkSecs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - parkStart).count();
  ASSERT_EQ(parkedCount(), rows);
  PgConnection target = env().connectTarget();
  target.exec(fmt::format(
      "INSERT INTO profiles (id, is_active, joined_at) SELECT id::uuid, true, now() FROM "
      "unnest('{{{}}}'::text[]) AS id",
      std::string(source
                      .execParams("SELECT string_agg(uuid_generate_v5($1::uuid, 'dispatch_user:' "
                                  "|| g)::text, ',') FROM generate_series(70001, 70100) g",
                                  {env().idNamespace()})
                      .value(0, 0))));
  std::string logPath = env().target().dir() + "/server.log";
  std::streamoff logStart = std::ifstream(logPath, std::ios::ate).tellg();
  auto start = std::chrono::steady_clock::now();
  Cli retry = pgmorph({"parked", "retry", "--all"});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(retry.status, 0) << retry.output;
  std::ifstream in(logPath);
  in.seekg(logStart);
  int errors = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("ERROR:") != std::string::npos) ++errors;
  std::cout << "follow parked " << rows << " rows in " << parkSecs << " s\n"
            << "parked retry --all: " << secs << " s wall, " << errors
            << " ERROR lines in the target's log\n"
            << retry.output;
  EXPECT_EQ(parkedCount(), rows / 10);
  EXPECT_EQ(errors, 0);
}

}  // namespace
}  // namespace pgmorph::e2e
