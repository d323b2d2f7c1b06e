// End to end: the slot keeps moving when the source writes nothing the pipeline maps (idle, or
// only unmapped tables), through follow's heartbeats (slot.heartbeat_interval_ms) and idle
// advances; lag reads as caught up; a large mapped transaction held open while heartbeats
// come and go lands whole; slot.max_retained_wal warns. Real `pgmorph follow` against a
// database of the shared source cluster and one of the shared target cluster, with short
// intervals (status 200 ms, heartbeat 300 ms) so that "longer than the status interval" is
// seconds. Prints the measured figures (confirmed_flush_lsn behind pg_current_wal_lsn, WAL per
// heartbeat) on stdout.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/Poll.h"
#include "tests/support/HttpGet.h"
#include "tests/support/PgCluster.h"
#include "tests/support/PrometheusScrape.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;
using e2e::pollUntil;

using test::sample;

// `"key":value` of a compact JSON object, as text ("null" included); "" when absent.
std::string jsonValue(const std::string& json, const std::string& key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"" + key + "\":(null|true|false|[-0-9.eE+]+)")))
    return m[1];
  return "";
}

class HeartbeatEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(std::random_device{}());
    pipeline_ = fmt::format("heartbeat_{}", rng() % 1000000);
    slot_ = "pgmorph_" + pipeline_;
    sourceDb_ = source_.createDatabase("heartbeat");
    source_.psql(sourceDb_,
                 "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL);"
                 "CREATE TABLE noise (id bigserial PRIMARY KEY, note text)");
    targetDb_ = target_.createDatabase("heartbeat");
    target_.psql(targetDb_,
                 "CREATE TABLE item (id uuid PRIMARY KEY, legacy_id int UNIQUE NOT NULL, "
                 "name text NOT NULL)");
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgmorph-hb-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    workDir_ = tmpl;
    config_ = workDir_ + "/pipeline.yaml";
  }

  void writeConfig(const std::string& maxRetainedWal = "0") {
    std::ofstream(config_) << fmt::format(R"(pipeline: {}
source:
  conninfo: "{}"
  slot: {}
target:
  conninfo: "{}"
ids:
  namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b
apply:
  status_interval_ms: 200
slot:
  heartbeat_interval_ms: 300
  max_retained_wal: {}
tables:
  item:
    - target: item
      key: id
      legacy_id: legacy_id
      columns:
        name: name
)",
                                          pipeline_, source_.conninfo(sourceDb_), slot_,
                                          target_.conninfo(targetDb_), maxRetainedWal);
  }

  void TearDown() override {
    if (pgmorph_) {
      if (HasFailure()) std::cerr << "---- pgmorph stderr ----\n" << pgmorph_->stderrText();
      pgmorph_.reset();
    }
    source_.dropReplicationSlot(slot_);
    source_.dropDatabase(sourceDb_);
    target_.dropDatabase(targetDb_);
    std::filesystem::remove_all(workDir_);
  }

  void startFollow() {
    port_ = test::freePort();
    pgmorph_ = std::make_unique<e2e::ChildProcess>(
        std::vector<std::string>{PGMORPH_BINARY, "follow", "-c", config_, "--log-level", "info",
                                 "--metrics-address", fmt::format("127.0.0.1:{}", port_),
                                 "--progress-interval", "1"},
        workDir_ + "/follow");
    ASSERT_TRUE(pollUntil(60s, [&] { return test::httpGet(port_, "/healthz").status == 200; }))
        << "/healthz: " << test::httpGet(port_, "/healthz").body;
  }

  std::string scrape() { return test::httpGet(port_, "/metrics").body; }

  std::string status() {
    e2e::ChildProcess p({PGMORPH_BINARY, "status", "-c", config_, "--json"}, workDir_ + "/status");
    auto rc = p.waitFor(30s);
    EXPECT_EQ(rc.value_or(-1), 0) << p.stderrText();
    return p.stdoutText();
  }

  // pg_current_wal_lsn() - confirmed_flush_lsn of the slot, and confirmed_flush_lsn - '0/0'.
  std::pair<double, double> slotBehind() {
    std::string row = source_.scalar(
        sourceDb_, fmt::format("SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::text || ' ' "
                               "|| (confirmed_flush_lsn - '0/0')::text FROM pg_replication_slots "
                               "WHERE slot_name = '{}'",
                               slot_));
    std::istringstream in(row);
    double behind = 0, confirmed = 0;
    in >> behind >> confirmed;
    return {behind, confirmed};
  }

  std::string targetCount() { return target_.scalar(targetDb_, "SELECT count(*) FROM item"); }

  test::PgCluster& source_ = test::sharedSource();
  test::PgCluster& target_ = test::sharedTarget();
  std::string pipeline_, slot_, sourceDb_, targetDb_, workDir_, config_;
  int port_ = 0;
  std::unique_ptr<e2e::ChildProcess> pgmorph_;
};

TEST_F(HeartbeatEndToEnd, IdleSourceKeepsTheSlotMovingAndLagReadsZero) {
  writeConfig();
  startFollow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'one')");
  ASSERT_TRUE(pollUntil(30s, [&] { return targetCount() == "1"; }));

  // Idle for 4 s (20 status intervals): the slot's confirmed position keeps moving (the
  // heartbeats write WAL, and follow confirms them and the WAL after them).
  double first = slotBehind().second, last = first, maxBehind = 0, sumBehind = 0;
  int moves = 0, samples = 0;
  for (auto end = std::chrono::steady_clock::now() + 4s; std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(250ms);
    auto [behind, confirmed] = slotBehind();
    if (confirmed > last) ++moves;
    last = confirmed;
    maxBehind = std::max(maxBehind, behind);
    sumBehind += behind;
    ++samples;
  }
  std::cout << fmt::format(
      "[figures] idle 4 s: confirmed_flush_lsn moved {} bytes in {} of {} samples; behind "
      "pg_current_wal_lsn: max {} bytes, mean {:.0f} bytes\n",
      last - first, moves, samples, maxBehind, sumBehind / samples);
  EXPECT_GT(last, first) << "confirmed_flush_lsn did not move on an idle source";
  EXPECT_GE(moves, samples / 2) << "confirmed_flush_lsn stood still most of the time";
  EXPECT_LT(maxBehind, 64 * 1024) << "the slot fell behind an idle source";

  // Lag reads as caught up: /metrics exactly 0; `status` (which cannot see what the WAL after
  // the checkpoint holds) at most about one heartbeat interval, never the age of the last
  // applied change (4 s and growing).
  std::string body = scrape();
  EXPECT_EQ(sample(body, "pgmorph_lag_seconds").value_or(-1), 0) << body;
  EXPECT_GE(sample(body, "pgmorph_heartbeat_round_trip_seconds").value_or(-1), 0) << body;
  EXPECT_EQ(sample(body, "pgmorph_heartbeat_stalled").value_or(-1), 0) << body;
  double maxStatusSeconds = 0;
  for (int i = 0; i < 6; ++i) {
    std::string json = status();
    std::string seconds = jsonValue(json, "seconds");
    ASSERT_NE(seconds, "null") << json;
    ASSERT_FALSE(seconds.empty()) << json;
    maxStatusSeconds = std::max(maxStatusSeconds, std::stod(seconds));
    std::this_thread::sleep_for(150ms);
  }
  std::cout << fmt::format("[figures] idle: status lag seconds at most {:.3f} s\n",
                           maxStatusSeconds);
  EXPECT_LT(maxStatusSeconds, 1.0);

  // WAL per heartbeat: two messages like follow's, back to back in one statement (the least
  // of a few tries, in case another test's WAL came in between).
  double cost = 1e9;
  for (int i = 0; i < 5; ++i)
    cost = std::min(
        cost, std::stod(source_.scalar(
                  sourceDb_,
                  "WITH a AS MATERIALIZED (SELECT pg_logical_emit_message(false, "
                  "'pgmorph_heartbeat:x', '1764643200000000') AS l), b AS MATERIALIZED (SELECT "
                  "pg_logical_emit_message(false, 'pgmorph_heartbeat:x', '1764643200000000') AS l "
                  "FROM a) SELECT b.l - a.l FROM a, b")));
  std::cout << fmt::format("[figures] WAL per heartbeat: {} bytes\n", cost);

  pgmorph_->signal(SIGINT);
  EXPECT_EQ(pgmorph_->waitFor(30s).value_or(-1), 0);
}

TEST_F(HeartbeatEndToEnd, SourceWritingOnlyUnmappedTablesKeepsTheSlotMoving) {
  writeConfig();
  startFollow();
  // 5 s of small transactions on a table the mapping does not list.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    source_.psql(sourceDb_,
                 "DO $$ BEGIN FOR i IN 1..250 LOOP INSERT INTO noise (note) VALUES ('n' || i); "
                 "COMMIT; PERFORM pg_sleep(0.02); END LOOP; END $$");
    done = true;
  });
  double first = slotBehind().second, maxBehind = 0;
  int samples = 0;
  std::this_thread::sleep_for(500ms);
  while (!done) {
    auto [behind, confirmed] = slotBehind();
    maxBehind = std::max(maxBehind, behind);
    ++samples;
    std::this_thread::sleep_for(250ms);
  }
  writer.join();
  std::cout << fmt::format(
      "[figures] unmapped writes: confirmed_flush_lsn behind pg_current_wal_lsn at most {} "
      "bytes over {} samples\n",
      maxBehind, samples);
  EXPECT_LT(maxBehind, 256 * 1024);
  EXPECT_TRUE(pollUntil(10s, [&] { return slotBehind().first < 4096; }))
      << "the slot did not catch up with the source's WAL: " << slotBehind().first;
  EXPECT_GT(slotBehind().second, first);
  std::string json = status();
  std::string seconds = jsonValue(json, "seconds");
  ASSERT_FALSE(seconds.empty() || seconds == "null") << json;
  EXPECT_LT(std::stod(seconds), 1.0) << json;
  EXPECT_TRUE(pollUntil(5s, [&] { return sample(scrape(), "pgmorph_lag_seconds") == 0.0; }))
      << scrape();
  EXPECT_EQ(targetCount(), "0");
}

// The trap: a large mapped transaction open on the source while heartbeats come back and the
// checkpoint moves. Everything is confirmed only as far as the stream has delivered: once it
// commits, every row lands, once.
TEST_F(HeartbeatEndToEnd, LargeTransactionOpenWhileHeartbeatsFlowLandsWhole) {
  writeConfig();
  startFollow();
  PgConnection tx(source_.conninfo(sourceDb_), "source");
  Lsn before = Lsn::parse(tx.exec("SELECT pg_current_wal_lsn()::text").value(0, 0));
  tx.exec("BEGIN");
  tx.exec("INSERT INTO item SELECT g, 'n' || g FROM generate_series(1, 200000) g");
  // Heartbeats come back and are confirmed meanwhile; the slot keeps the open transaction.
  double confirmedAtStart = slotBehind().second;
  ASSERT_TRUE(pollUntil(10s, [&] { return slotBehind().second > confirmedAtStart; }))
      << "no heartbeat was confirmed while the transaction was open";
  Lsn restart = Lsn::parse(source_.scalar(
      sourceDb_,
      fmt::format("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '{}'", slot_)));
  EXPECT_LE(restart, before) << "the slot no longer keeps the open transaction";
  tx.exec("COMMIT");
  Lsn committed = Lsn::parse(tx.exec("SELECT pg_current_wal_lsn()::text").value(0, 0));
  // While it is applied, and the next one: the slot never confirms more than the target's
  // checkpoint (read after the slot: the checkpoint only grows).
  std::string violation;
  auto checkSlotBehindTarget = [&] {
    double confirmed = slotBehind().second;
    double checkpoint = std::stod(target_.scalar(
        targetDb_, fmt::format("SELECT lsn - '0/0' FROM pgmorph.checkpoint WHERE pipeline = '{}'",
                               pipeline_)));
    if (confirmed > checkpoint && violation.empty())
      violation = fmt::format("confirmed_flush_lsn {} > checkpoint {}", confirmed, checkpoint);
  };
  ASSERT_TRUE(pollUntil(120s,
                        [&] {
                          checkSlotBehindTarget();
                          return targetCount() == "200000";
                        }))
      << "target has " << targetCount() << " of 200000 rows";
  // A large transaction written and committed at once: the walsender decodes its rows for a
  // while before it reaches the commit and sends anything, and meanwhile follow has nothing
  // in flight. What it confirms then must still be before that commit (a heartbeat written
  // meanwhile lies after it in the WAL, and comes after it).
  source_.psql(sourceDb_,
               "INSERT INTO item SELECT g, 'late' FROM generate_series(200001, 500000) g");
  ASSERT_TRUE(pollUntil(90s,
                        [&] {
                          checkSlotBehindTarget();
                          return targetCount() == "500000";
                        }))
      << "target has " << targetCount() << " of 500000 rows";
  EXPECT_EQ(violation, "") << "the slot ran ahead of the target";
  EXPECT_EQ(target_.scalar(targetDb_, "SELECT count(DISTINCT legacy_id) FROM item"), "500000");
  EXPECT_TRUE(pollUntil(10s, [&] { return slotBehind().second >= committed.value(); }));
}

// A stuck walsender (stopped with SIGSTOP) while a mapped transaction has committed: follow
// has nothing in flight, yet must not confirm anything the walsender has not delivered; the
// heartbeats that do not come back say so (log, /metrics, /healthz). Once it runs again the
// transaction lands and the stall clears.
TEST_F(HeartbeatEndToEnd, StuckWalsenderIsReportedAndNothingIsConfirmedPastIt) {
  writeConfig();
  startFollow();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1, 'first')");
  ASSERT_TRUE(pollUntil(30s, [&] { return targetCount() == "1"; }));
  std::string pid = source_.scalar(
      sourceDb_,
      fmt::format("SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{}'", slot_));
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(::kill(std::stoi(pid), SIGSTOP), 0);
  struct Resume {
    int pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{std::stoi(pid)};
  // Everything of the transaction lies after `before` (the insert position, not the write
  // position: the test clusters may commit asynchronously).
  double before =
      std::stod(source_.scalar(sourceDb_, "SELECT pg_current_wal_insert_lsn() - '0/0'"));
  source_.psql(sourceDb_, "INSERT INTO item VALUES (2, 'while stuck')");
  EXPECT_TRUE(pollUntil(10s, [&] { return sample(scrape(), "pgmorph_heartbeat_stalled") == 1.0; }))
      << scrape();
  test::HttpReply health = test::httpGet(port_, "/healthz");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body.rfind("stalled: the walsender of slot '" + slot_ + "'", 0), 0)
      << health.body;
  EXPECT_NE(pgmorph_->stderrText().find("has not delivered the heartbeat"), std::string::npos);
  // Nothing confirmed, nor recorded as applied, past the start of the undelivered transaction.
  EXPECT_LE(slotBehind().second, before);
  EXPECT_LE(std::stod(target_.scalar(targetDb_,
                                     fmt::format("SELECT lsn - '0/0' FROM pgmorph.checkpoint WHERE "
                                                 "pipeline = '{}'",
                                                 pipeline_))),
            before);
  ::kill(std::stoi(pid), SIGCONT);
  ASSERT_TRUE(pollUntil(30s, [&] { return targetCount() == "2"; }))
      << "the transaction committed while the walsender was stuck never landed";
  EXPECT_TRUE(pollUntil(10s, [&] {
    return sample(scrape(), "pgmorph_heartbeat_stalled") == 0.0 &&
           test::httpGet(port_, "/healthz").status == 200;
  }));
  EXPECT_NE(pgmorph_->stderrText().find("delivers heartbeats again"), std::string::npos);
}

// wal2json's add-msg-prefixes (which follow sets to its heartbeat prefix) keeps other
// messages off the stream, on the real server.
TEST_F(HeartbeatEndToEnd, Wal2JsonSendsOnlyMessagesOfTheGivenPrefix) {
  PgConnection conn(source_.conninfo(sourceDb_), "source");
  std::string slot = "hbprefix_" + pipeline_.substr(pipeline_.find('_') + 1);
  conn.exec(fmt::format(
      "SELECT 'x' FROM pg_create_logical_replication_slot('{}', 'wal2json', true)", slot));
  conn.exec("SELECT pg_logical_emit_message(false, 'other_app', 'theirs')");
  conn.exec("SELECT pg_logical_emit_message(false, 'pgmorph_heartbeat:p', '1')");
  // The decoder reads only flushed WAL: wait for the walwriter (the test clusters may run with
  // synchronous_commit off), with a transactional message to end the sequence.
  conn.exec("SELECT pg_logical_emit_message(true, 'zz_end', 'x')");
  std::string data;
  ASSERT_TRUE(pollUntil(10s, [&] {
    PgResult r = conn.exec(fmt::format(
        "SELECT count(*) FILTER (WHERE data LIKE '%zz_end%')::text || ' ' || "
        "coalesce(string_agg(data, E'\\n'), '') FROM pg_logical_slot_peek_changes('{}', NULL, "
        "NULL, 'format-version', '2', 'add-msg-prefixes', 'pgmorph_heartbeat:p,zz_end')",
        slot));
    data = std::string(r.value(0, 0));
    return data.rfind("0 ", 0) != 0;
  })) << data;
  EXPECT_NE(data.find("\"prefix\":\"pgmorph_heartbeat:p\""), std::string::npos) << data;
  EXPECT_EQ(data.find("other_app"), std::string::npos) << data;
}

TEST_F(HeartbeatEndToEnd, MaxRetainedWalWarnsInStatusLogAndMetrics) {
  writeConfig("1kB");
  startFollow();
  // A transaction left open holds the slot's restart_lsn behind its start: without it the
  // restart_lsn catches up at the next running-xacts record and the WAL kept can drop back
  // under 1 kB between the metric's poll and `status` (seen once: 160 bytes, no WARNING).
  PgConnection holder(source_.conninfo(sourceDb_), "holder");
  holder.exec("BEGIN");
  holder.exec("INSERT INTO noise (note) VALUES ('held open')");
  // Some WAL the slot keeps.
  source_.psql(sourceDb_,
               "INSERT INTO noise (note) SELECT repeat('x', 100) FROM "
               "generate_series(1, 200)");
  EXPECT_TRUE(pollUntil(10s, [&] {
    return sample(scrape(), "pgmorph_slot_retained_wal_exceeded") == 1.0;
  })) << scrape();
  EXPECT_EQ(sample(scrape(), "pgmorph_slot_max_retained_wal_bytes").value_or(-1), 1024);
  EXPECT_TRUE(pollUntil(10s, [&] {
    return pgmorph_->stderrText().find("above slot.max_retained_wal (1024 bytes)") !=
           std::string::npos;
  })) << pgmorph_->stderrText();
  std::string json = status();
  EXPECT_EQ(jsonValue(json, "retained_wal_warning"), "true") << json;
  EXPECT_EQ(jsonValue(json, "max_retained_wal_bytes"), "1024") << json;
  e2e::ChildProcess text({PGMORPH_BINARY, "status", "-c", config_}, workDir_ + "/status-text");
  ASSERT_EQ(text.waitFor(30s).value_or(-1), 0);
  EXPECT_NE(text.stdoutText().find("WARNING"), std::string::npos) << text.stdoutText();
}

}  // namespace
}  // namespace pgmorph
