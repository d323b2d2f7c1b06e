// `pgmorph status` against real clusters (the shared source and target, a fresh database on
// each per test), on a small schema of its own: st_parent/st_child mapped onto parents and
// children, where a child whose parent is missing is parked (missing_parent) and a child the
// target's CHECK refuses is parked (refused). Covers: status before anything ran (no
// checkpoint, no slot, exit 0); after `run --until-caught-up` (the checkpoint as stored, lag 0,
// parked counts per table and reason, snapshot state per table), then with source writes not
// yet followed (lag bytes as pg_wal_lsn_diff computes them), then followed again (the source
// commit time of the last applied transaction, lag 0); --json carries the same numbers; a
// `pgmorph follow` running as its own process shows as the slot's active pid; an
// unreachable target is exit 2, named, with the source's facts and without the password.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "app/ConfigFile.h"
#include "app/follow/FollowCommand.h"
#include "app/snapshot/SnapshotCommand.h"
#include "app/status/StatusCommand.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

constexpr const char* kSourceSql = R"sql(
CREATE TABLE st_parent (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE st_child (id integer PRIMARY KEY, parent_id integer, note text);
INSERT INTO st_parent VALUES (1, 'one'), (2, 'two');
INSERT INTO st_child VALUES (10, 1, 'fine'), (11, 98, 'orphan'), (12, 99, 'orphan too'),
                            (13, 2, 'bad');
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE parents (id uuid PRIMARY KEY, name text NOT NULL, legacy_id integer);
CREATE TABLE children (id uuid PRIMARY KEY, parent_id uuid REFERENCES parents (id),
                       note text CHECK (note <> 'bad'));
CREATE INDEX ON children (parent_id);
)sql";

std::string mappingYaml(const std::string& source, const std::string& target,
                        const std::string& slot) {
  return fmt::format(R"(pipeline: st
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: st_state }}
# No heartbeats: a confirmed heartbeat's time would stand in for the last commit's, which the
# tests below read back exactly (HeartbeatEndToEndTest covers the heartbeat's).
slot: {{ heartbeat_interval_ms: 0 }}
ids: {{ namespace: 5b0c4a1e-7d2f-4e3a-8c6b-1f2e3d4c5b6a }}
tables:
  st_parent:
    - target: parents
      key: id
      legacy_id: legacy_id
      columns:
        name: name
  st_child:
    - target: children
      key: id
      columns:
        parent_id: {{ to: parent_id, ref: st_parent }}
        note: note
)",
                     source, slot, target);
}

// A line of the human report, as StatusReport aligns it.
std::string row(const std::string& label, const std::string& value) {
  return fmt::format("  {:<22} {}", label, value);
}

void expectHas(const std::string& report, const std::string& what) {
  EXPECT_NE(report.find(what), std::string::npos) << "missing: " << what << "\n" << report;
}

class StatusCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = test::sharedSource().createDatabase("st");
    targetDb_ = test::sharedTarget().createDatabase("st");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceSql);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    writeMapping(test::sharedTarget().conninfo(targetDb_));
  }

  void writeMapping(const std::string& targetConninfo) {
    path_ = fmt::format("/tmp/pgmorph-status-{}.yaml", sourceDb_);
    std::ofstream(path_) << mappingYaml(test::sharedSource().conninfo(sourceDb_), targetConninfo,
                                        slot_);
  }

  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
    test::sharedSource().dropReplicationSlot(slot_);
    test::sharedSource().dropDatabase(sourceDb_);
    test::sharedTarget().dropDatabase(targetDb_);
  }

  int status(std::string& out, bool json = false) {
    std::ostringstream s;
    int code = StatusCommand::run(path_, json, s);
    out = s.str();
    return code;
  }

  rapidjson::Document statusJson(int expectedCode = 0) {
    std::string out;
    EXPECT_EQ(status(out, true), expectedCode) << out;
    rapidjson::Document doc;
    doc.Parse(out.c_str());
    EXPECT_FALSE(doc.HasParseError()) << out;
    EXPECT_EQ(doc["version"].GetInt(), 1) << out;
    return doc;
  }

  int runUntilCaughtUp() {
    PipelineConfig config = loadConfigFile(path_);
    SnapshotOptions snapshot;
    snapshot.jobs = 2;
    snapshot.progressInterval = std::chrono::seconds(1);
    FollowOptions follow;
    follow.progressInterval = std::chrono::seconds(1);
    return SnapshotCommand(config).run(snapshot, follow, true);
  }

  int followUntilCaughtUp() {
    PipelineConfig config = loadConfigFile(path_);
    FollowOptions follow;
    follow.progressInterval = std::chrono::seconds(1);
    return FollowCommand(config).follow(follow, true);
  }

  std::string storedCheckpoint() {
    return test::sharedTarget().scalar(
        targetDb_, "SELECT lsn::text FROM st_state.checkpoint WHERE pipeline = 'st'");
  }

  // pg_wal_lsn_diff(pg_current_wal_insert_lsn(), lsn) on the source, now (the insert position,
  // as status reads it: the test clusters commit with synchronous_commit = off).
  std::uint64_t sourceLagOf(const std::string& lsn) {
    return std::stoull(test::sharedSource().scalar(
        sourceDb_,
        fmt::format("SELECT greatest(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '{}'), 0)",
                    lsn)));
  }

  std::string sourceDb_, targetDb_, slot_, path_;
};

TEST_F(StatusCommandTest, BeforeAnythingRanThereIsNoCheckpointAndNoSlot) {
  std::string out;
  EXPECT_EQ(status(out), 0) << out;
  expectHas(out, "pgmorph status of " + path_ + " (pipeline st)");
  expectHas(out, "reachable, state schema st_state (does not exist yet)");
  expectHas(out, "none yet (nothing applied)");
  expectHas(out, "slot " + slot_);
  expectHas(out, "does not exist (the first snapshot, run or follow creates it)");
  expectHas(out, "none taken");
  // Read only: status created nothing.
  EXPECT_EQ(test::sharedTarget().scalar(
                targetDb_, "SELECT count(*) FROM pg_namespace WHERE nspname = 'st_state'"),
            "0");

  auto doc = statusJson();
  EXPECT_STREQ(doc["status"].GetString(), "ok");
  EXPECT_TRUE(doc["checkpoint"].IsNull());
  EXPECT_TRUE(doc["snapshot"].IsNull());
  EXPECT_FALSE(doc["slot"]["exists"].GetBool());
  EXPECT_TRUE(doc["lag"]["bytes"].IsNull());
  EXPECT_STREQ(doc["lag"]["seconds_basis"].GetString(), "unknown");
  EXPECT_EQ(doc["parked"]["total"].GetInt64(), 0);
  EXPECT_FALSE(doc["source"]["current_lsn"].IsNull());
}

TEST_F(StatusCommandTest, AfterARunShowsCheckpointParkedRowsSnapshotAndThenTheLag) {
  ASSERT_EQ(runUntilCaughtUp(), 0);
  const std::string cp = storedCheckpoint();
  ASSERT_FALSE(cp.empty());

  // Caught up: the checkpoint as stored, nothing unapplied (unless the source wrote WAL of its
  // own since: then what pg_wal_lsn_diff says).
  std::string out;
  std::uint64_t before = sourceLagOf(cp);
  EXPECT_EQ(status(out), 0) << out;
  std::uint64_t after = sourceLagOf(cp);
  expectHas(out, row("lsn", "") + cp + "\n");
  if (before == 0 && after == 0) {
    expectHas(out, row("lag", "0 bytes\n"));
    expectHas(out, row("lag seconds", "0.000 s"));
  }
  expectHas(out, "not active: no pgmorph is streaming from it");
  expectHas(out, "done, consistent point");
  expectHas(out, row("public.parents", "done     2 rows from public.st_parent"));
  expectHas(out, row("public.children", "done     1 rows from public.st_child"));
  expectHas(out, row("total", "3\n"));
  expectHas(out, row("public.children", "missing_parent  2\n"));
  expectHas(out, row("public.children", "refused         1\n"));
  expectHas(out, row("count", "0 (every index and constraint is in place)"));

  // Written on the source, not followed: the lag is the WAL between the checkpoint and now.
  test::sharedSource().psql(sourceDb_,
                            "INSERT INTO st_parent SELECT g, 'more ' || g FROM "
                            "generate_series(3, 50) g; UPDATE st_child SET note = 'x';");
  before = sourceLagOf(cp);
  ASSERT_GT(before, 0u);
  EXPECT_EQ(status(out), 0) << out;
  after = sourceLagOf(cp);
  auto lagLine = out.find("\n  lag                    ");
  ASSERT_NE(lagLine, std::string::npos) << out;
  std::uint64_t shown = std::stoull(out.substr(lagLine + 26));
  EXPECT_GE(shown, before) << out;
  EXPECT_LE(shown, after) << out;
  if (before == after) {
    EXPECT_EQ(shown, before) << out;
  }

  // Followed: the source time of the checkpoint is recorded, lag 0 again. It is the commit time
  // of the last transaction applied — the UPDATE, or the message a catch-up commits on the source
  // at its start to flush the source's WAL (Heartbeat::emitFlushing), which comes after it.
  std::string t0 = test::sharedSource().scalar(sourceDb_, "SELECT clock_timestamp()");
  test::sharedSource().psql(sourceDb_, "UPDATE st_parent SET name = 'last' WHERE id = 1");
  ASSERT_EQ(followUntilCaughtUp(), 0);
  std::string t1 = test::sharedSource().scalar(sourceDb_, "SELECT clock_timestamp()");
  auto doc = statusJson();
  ASSERT_TRUE(doc["checkpoint"].IsObject());
  EXPECT_STREQ(doc["checkpoint"]["lsn"].GetString(), storedCheckpoint().c_str());
  ASSERT_TRUE(doc["checkpoint"]["last_commit_time"].IsString());
  std::string commit = doc["checkpoint"]["last_commit_time"].GetString();
  EXPECT_EQ(
      test::sharedSource().scalar(
          sourceDb_, fmt::format("SELECT '{}'::timestamptz BETWEEN '{}' AND '{}'", commit, t0, t1)),
      "t")
      << commit << " not in [" << t0 << ", " << t1 << "]";
  EXPECT_TRUE(doc["checkpoint"]["last_applied_at"].IsString());
  if (doc["lag"]["bytes"].GetUint64() == 0) {
    EXPECT_EQ(doc["lag"]["seconds"].GetDouble(), 0.0);
    EXPECT_STREQ(doc["lag"]["seconds_basis"].GetString(), "caught_up");
  }

  // Written again, not followed: the seconds are the source's clock minus that commit time.
  test::sharedSource().psql(sourceDb_, "UPDATE st_parent SET name = 'later' WHERE id = 2");
  auto age = [&] {
    return std::stod(test::sharedSource().scalar(
        sourceDb_,
        fmt::format("SELECT extract(epoch FROM clock_timestamp() - '{}'::timestamptz)", commit)));
  };
  double ageBefore = age();
  doc = statusJson();
  double ageAfter = age();
  EXPECT_GT(doc["lag"]["bytes"].GetUint64(), 0u);
  EXPECT_STREQ(doc["lag"]["seconds_basis"].GetString(), "since_last_applied_commit");
  ASSERT_TRUE(doc["lag"]["seconds"].IsNumber());
  EXPECT_GE(doc["lag"]["seconds"].GetDouble(), ageBefore - 1e-6);
  EXPECT_LE(doc["lag"]["seconds"].GetDouble(), ageAfter + 1e-6);
}

TEST_F(StatusCommandTest, JsonCarriesTheSameNumbers) {
  ASSERT_EQ(runUntilCaughtUp(), 0);
  test::sharedSource().psql(sourceDb_, "INSERT INTO st_parent VALUES (60, 'sixty')");
  const std::string cp = storedCheckpoint();
  std::uint64_t before = sourceLagOf(cp);
  auto doc = statusJson();
  std::uint64_t after = sourceLagOf(cp);
  EXPECT_STREQ(doc["status"].GetString(), "ok");
  EXPECT_STREQ(doc["pipeline"].GetString(), "st");
  EXPECT_STREQ(doc["checkpoint"]["lsn"].GetString(), cp.c_str());
  EXPECT_EQ(doc["checkpoint"]["slot"].GetString(), slot_);
  // The lag is exactly current_lsn - checkpoint, and current_lsn is the source's at the time.
  std::string current = doc["source"]["current_lsn"].GetString();
  std::uint64_t lag = doc["lag"]["bytes"].GetUint64();
  EXPECT_EQ(std::to_string(lag),
            test::sharedSource().scalar(
                sourceDb_, fmt::format("SELECT pg_wal_lsn_diff('{}', '{}')", current, cp)));
  EXPECT_GE(lag, before);
  EXPECT_LE(lag, after);
  EXPECT_GT(lag, 0u) << "checkpoint " << cp << ", current " << current;
  // A snapshot and idle advances carry no commit time: the seconds are unknown, and say why.
  EXPECT_TRUE(doc["lag"]["seconds"].IsNull());
  EXPECT_STREQ(doc["lag"]["seconds_basis"].GetString(), "unknown");

  const auto& slot = doc["slot"];
  EXPECT_TRUE(slot["exists"].GetBool());
  EXPECT_STREQ(slot["plugin"].GetString(), "wal2json");
  EXPECT_FALSE(slot["active"].GetBool());
  EXPECT_TRUE(slot["active_pid"].IsNull());
  EXPECT_EQ(std::to_string(slot["retained_wal_bytes"].GetUint64()),
            test::sharedSource().scalar(
                sourceDb_, fmt::format("SELECT pg_wal_lsn_diff('{}', restart_lsn) FROM "
                                       "pg_replication_slots WHERE slot_name = '{}'",
                                       current, slot_)));

  EXPECT_EQ(doc["parked"]["total"].GetInt64(), 3);
  std::map<std::string, std::int64_t> parked;
  for (const auto& c : doc["parked"]["by_table"].GetArray())
    parked[std::string(c["table"].GetString()) + " " + c["reason"].GetString()] =
        c["rows"].GetInt64();
  EXPECT_EQ(parked, (std::map<std::string, std::int64_t>{{"public.children missing_parent", 2},
                                                         {"public.children refused", 1}}));
  ASSERT_TRUE(doc["snapshot"].IsObject());
  EXPECT_STREQ(doc["snapshot"]["status"].GetString(), "done");
  std::map<std::string, std::string> tables;
  for (const auto& t : doc["snapshot"]["tables"].GetArray())
    tables[t["target_table"].GetString()] =
        fmt::format("{} {}", t["state"].GetString(), t["rows"].GetInt64());
  EXPECT_EQ(tables, (std::map<std::string, std::string>{{"public.parents", "done 2"},
                                                        {"public.children", "done 1"}}));
  EXPECT_EQ(doc["suspended_ddl"]["count"].GetUint64(), 0u);
}

TEST_F(StatusCommandTest, ARunningPgmorphIsSeenThroughTheSlot) {
  ASSERT_EQ(runUntilCaughtUp(), 0);
  // `pgmorph follow` as a separate process, its output to /dev/null.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!freopen("/dev/null", "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(127);
    execl(PGMORPH_BINARY, PGMORPH_BINARY, "follow", "-c", path_.c_str(), nullptr);
    _exit(127);
  }
  std::string pid;
  for (int i = 0; i < 300 && (pid.empty() || pid == "0"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pid = test::sharedSource().scalar(
        "postgres", fmt::format("SELECT coalesce(max(active_pid), 0) FROM pg_replication_slots "
                                "WHERE slot_name = '{}' AND active",
                                slot_));
  }
  auto doc = statusJson();
  std::string out;
  EXPECT_EQ(status(out), 0) << out;
  kill(child, SIGINT);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  ASSERT_NE(pid, "0") << "pgmorph follow never became active on the slot";
  EXPECT_TRUE(doc["slot"]["active"].GetBool());
  EXPECT_EQ(std::to_string(doc["slot"]["active_pid"].GetInt()), pid);
  expectHas(out, row("state", "active, pid " + pid + ": a pgmorph"));
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
}

TEST_F(StatusCommandTest, UnreachableTargetIsExitTwoNamedWithoutThePassword) {
  writeMapping(
      fmt::format("host=127.0.0.1 port={} dbname=nowhere user=postgres "
                  "password=s3cretpw connect_timeout=5",
                  test::freePort()));
  std::string out;
  EXPECT_EQ(status(out), 2) << out;
  expectHas(out, row("target", "UNREACHABLE: "));
  expectHas(out, row("source", "reachable, current WAL position "));
  expectHas(out, "does not exist (the first snapshot");  // the source's facts still shown
  EXPECT_EQ(out.find("s3cretpw"), std::string::npos) << out;

  auto doc = statusJson(2);
  EXPECT_STREQ(doc["status"].GetString(), "unreachable");
  EXPECT_FALSE(doc["target"]["reachable"].GetBool());
  EXPECT_TRUE(doc["target"]["error"].IsString());
  EXPECT_TRUE(doc["source"]["reachable"].GetBool());
  EXPECT_TRUE(doc["source"]["current_lsn"].IsString());
  EXPECT_TRUE(doc["parked"]["total"].IsNull());
  EXPECT_EQ(std::string(doc["target"]["error"].GetString()).find("s3cretpw"), std::string::npos);
}

}  // namespace
}  // namespace pgmorph
