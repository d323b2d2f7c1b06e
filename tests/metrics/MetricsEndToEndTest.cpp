// End to end: `pgmorph follow --metrics-address` against a source database of the shared
// source cluster and a target cluster of its own (so that the test can stop it), with a small
// schema of its own. Scrapes /metrics and /healthz and compares the counters with what the
// target holds, and the parked-rows gauge with a row the target refuses; then stops the target
// and expects /healthz to say so. `run`: the snapshot's rows by source table.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

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

using Reply = test::HttpReply;

Reply get(int port, const std::string& target) {
  return test::httpGet(port, target);
}

using test::sample;

class MetricsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(std::random_device{}());
    pipeline_ = fmt::format("metrics_{}", rng() % 1000000);
    slot_ = "pgmorph_" + pipeline_;
    sourceDb_ = source_.createDatabase("metrics");
    source_.psql(sourceDb_,
                 "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)");
    test::PgCluster::Options options;
    options.name = "mtarget";
    target_ = std::make_unique<test::PgCluster>(options);
    targetDb_ = target_->createDatabase("metrics");
    target_->psql(targetDb_,
                  "CREATE TABLE item (id uuid PRIMARY KEY, legacy_id int UNIQUE NOT NULL, "
                  "name text NOT NULL CHECK (name <> 'unlucky'), qty int NOT NULL)");
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgmorph-metrics-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    workDir_ = tmpl;
    config_ = workDir_ + "/pipeline.yaml";
    std::ofstream(config_) << fmt::format(R"(pipeline: {}
source:
  conninfo: "{}"
  slot: {}
target:
  conninfo: "{} connect_timeout=2"
ids:
  namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b
metrics:
  max_lag_seconds: 30
tables:
  item:
    - target: item
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        qty: qty
)",
                                          pipeline_, source_.conninfo(sourceDb_), slot_,
                                          target_->conninfo(targetDb_));
  }

  void TearDown() override {
    if (pgmorph_) {
      if (HasFailure()) std::cerr << "---- pgmorph stderr ----\n" << pgmorph_->stderrText();
      pgmorph_.reset();  // killed and reaped
    }
    source_.dropReplicationSlot(slot_);
    source_.dropDatabase(sourceDb_);
    target_.reset();
    std::filesystem::remove_all(workDir_);
  }

  std::string scrape() { return get(port_, "/metrics").body; }

  std::unique_ptr<e2e::ChildProcess> start(const std::string& command, int port,
                                           const std::string& log) {
    return std::make_unique<e2e::ChildProcess>(
        std::vector<std::string>{PGMORPH_BINARY, command, "-c", config_, "--log-level", "info",
                                 "--metrics-address", fmt::format("127.0.0.1:{}", port),
                                 "--progress-interval", "1"},
        workDir_ + "/" + log);
  }

  test::PgCluster& source_ = test::sharedSource();
  std::unique_ptr<test::PgCluster> target_;
  std::string pipeline_, slot_, sourceDb_, targetDb_, workDir_, config_;
  int port_ = 0;
  std::unique_ptr<e2e::ChildProcess> pgmorph_;
};

TEST_F(MetricsEndToEnd, CountersMatchTheTargetAndHealthFollowsTheTarget) {
  port_ = test::freePort();
  pgmorph_ = start("follow", port_, "follow");
  ASSERT_TRUE(pollUntil(60s, [&] { return get(port_, "/healthz").status == 200; }))
      << "/healthz: " << get(port_, "/healthz").body;
  EXPECT_EQ(get(port_, "/healthz").body, "ok: streaming\n");

  // 300 inserts in 3 transactions, 50 updates, 20 deletes (of other rows).
  for (int t = 0; t < 3; ++t)
    source_.psql(sourceDb_, fmt::format("INSERT INTO item SELECT g, 'n' || g, g FROM "
                                        "generate_series({}, {}) g",
                                        t * 100 + 1, t * 100 + 100));
  source_.psql(sourceDb_, "UPDATE item SET qty = -1 WHERE id <= 50");
  source_.psql(sourceDb_, "DELETE FROM item WHERE id > 280");
  const std::string inserts = R"(pgmorph_row_changes_applied_total{table="item",op="insert"})";
  const std::string updates = R"(pgmorph_row_changes_applied_total{table="item",op="update"})";
  const std::string deletes = R"(pgmorph_row_changes_applied_total{table="item",op="delete"})";
  ASSERT_TRUE(pollUntil(60s, [&] {
    return target_->scalar(targetDb_, "SELECT count(*) FROM item WHERE qty = -1") == "50" &&
           target_->scalar(targetDb_, "SELECT count(*) FROM item") == "280";
  })) << "target never caught up";
  // The counters are published with the commit that made the rows visible.
  std::string body = scrape();
  // The whole body is Prometheus text to the Prometheus project's own parser (which names a
  // counter's family without its _total), with the types the README's table gives.
  test::PrometheusScrape parsed = test::PrometheusScrape::parse(body);
  EXPECT_EQ(parsed.families().at("pgmorph_row_changes_applied"), "counter");
  EXPECT_EQ(parsed.families().at("pgmorph_apply_latency_seconds"), "histogram");
  EXPECT_EQ(parsed.families().at("pgmorph_batch_size_changes"), "histogram");
  EXPECT_EQ(parsed.families().at("pgmorph_lag_bytes"), "gauge");
  EXPECT_EQ(sample(body, inserts).value_or(-1) - sample(body, deletes).value_or(-1),
            std::stod(target_->scalar(targetDb_, "SELECT count(*) FROM item")))
      << body;
  EXPECT_EQ(sample(body, updates).value_or(-1),
            std::stod(target_->scalar(targetDb_, "SELECT count(*) FROM item WHERE qty = -1")));
  EXPECT_EQ(sample(body, inserts).value_or(-1), 300);
  EXPECT_EQ(sample(body, deletes).value_or(-1), 20);
  EXPECT_GE(sample(body, "pgmorph_source_transactions_applied_total").value_or(-1), 5);
  EXPECT_GE(sample(body, "pgmorph_batch_size_changes_count").value_or(-1), 1);
  EXPECT_TRUE(sample(body, "pgmorph_start_time_seconds").has_value());

  // The checkpoint gauge is the checkpoint row (an idle source moves it on: poll for a match).
  std::string lastScrape, lastRow;
  EXPECT_TRUE(pollUntil(
      20s,
      [&] {
        lastScrape = scrape();
        lastRow = target_->scalar(
            targetDb_,
            fmt::format("SELECT lsn - '0/0' FROM pgmorph.checkpoint WHERE pipeline = '{}'",
                        pipeline_));
        auto gauge = sample(lastScrape, "pgmorph_checkpoint_lsn");
        return gauge && *gauge == std::stod(lastRow);
      }))
      << "checkpoint row " << lastRow << " vs scrape:\n"
      << lastScrape;
  // A row the target refuses (its CHECK) is parked: the gauge of the parked store shows it by
  // target table and reason, and the event counter by source table.
  source_.psql(sourceDb_, "INSERT INTO item VALUES (999, 'unlucky', 13)");
  const std::string parkedGauge = R"(pgmorph_parked_rows{table="public.item",reason="refused"})";
  EXPECT_TRUE(pollUntil(20s, [&] { return sample(scrape(), parkedGauge).value_or(0) == 1; }))
      << scrape();
  EXPECT_EQ(
      sample(scrape(), R"(pgmorph_parking_events_total{table="item",event="parked"})").value_or(-1),
      1);
  // Lag and the slot's retained WAL are published every second.
  EXPECT_TRUE(pollUntil(10s, [&] {
    std::string b = scrape();
    return sample(b, "pgmorph_lag_bytes") && sample(b, "pgmorph_slot_retained_wal_bytes");
  }));

  // The target goes away: the next change cannot be applied, and /healthz says why.
  target_->stop();
  source_.psql(sourceDb_, "INSERT INTO item VALUES (1000, 'late', 1)");
  Reply health;
  EXPECT_TRUE(pollUntil(60s,
                        [&] {
                          health = get(port_, "/healthz");
                          return health.status == 503 && health.body.rfind("target down: ", 0) == 0;
                        }))
      << "/healthz " << health.status << ": " << health.body;
  EXPECT_EQ(health.body.find('\n'), health.body.size() - 1) << "one line: " << health.body;
  EXPECT_GE(sample(scrape(), R"(pgmorph_reconnects_total{side="target"})").value_or(0), 1);
  EXPECT_EQ(sample(scrape(), "pgmorph_streaming").value_or(-1), 0);

  // The target is back: pgmorph reconnects by itself, applies the change that waited, and
  // /healthz turns 200 again.
  target_->start();
  EXPECT_TRUE(pollUntil(90s,
                        [&] {
                          health = get(port_, "/healthz");
                          return health.status == 200;
                        }))
      << "/healthz " << health.status << ": " << health.body;
  EXPECT_EQ(health.body, "ok: streaming\n");
  EXPECT_TRUE(pollUntil(30s, [&] {
    return target_->scalar(targetDb_, "SELECT count(*) FROM item WHERE legacy_id = 1000") == "1";
  }));
  EXPECT_EQ(sample(scrape(), "pgmorph_streaming").value_or(-1), 1);

  pgmorph_->signal(SIGINT);
  EXPECT_TRUE(pgmorph_->waitFor(30s).has_value());
}

TEST_F(MetricsEndToEnd, RunPublishesTheSnapshotsRowsAndABusyAddressStopsASecondPgmorph) {
  source_.psql(sourceDb_, "INSERT INTO item SELECT g, 'n' || g, g FROM generate_series(1, 250) g");
  port_ = test::freePort();
  pgmorph_ = start("run", port_, "run");
  ASSERT_TRUE(pollUntil(120s, [&] { return get(port_, "/healthz").status == 200; }))
      << "/healthz: " << get(port_, "/healthz").body;
  EXPECT_EQ(target_->scalar(targetDb_, "SELECT count(*) FROM item"), "250");
  std::string body = scrape();
  // Labelled by the source table as the mapping names it, not by the copy task.
  EXPECT_EQ(sample(body, R"(pgmorph_snapshot_rows_copied_total{table="item"})").value_or(-1), 250)
      << body;

  // The address is taken: a second pgmorph says so and stops at once with 2.
  auto second = start("follow", port_, "second");
  auto status = second->waitFor(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2);
  EXPECT_NE(second->stderrText().find(fmt::format("cannot serve metrics on 127.0.0.1:{}", port_)),
            std::string::npos)
      << second->stderrText();
  EXPECT_NE(second->stderrText().find("in use"), std::string::npos) << second->stderrText();
  EXPECT_EQ(get(port_, "/healthz").status, 200);  // the first one still serves

  pgmorph_->signal(SIGINT);
  EXPECT_TRUE(pgmorph_->waitFor(30s).has_value());
}

}  // namespace
}  // namespace pgmorph
