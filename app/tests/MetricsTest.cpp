// Metrics registry, its Prometheus text renderer, Health, and the HTTP server (on a free port
// of 127.0.0.1, with a Beast client): no database.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "app/metrics/Health.h"
#include "app/metrics/Metrics.h"
#include "app/metrics/MetricsEndpoint.h"
#include "app/metrics/MetricsServer.h"
#include "app/metrics/PipelineMetrics.h"
#include "app/snapshot/SnapshotProgress.h"
#include "cdc/model/Errors.h"
#include "tests/support/HttpGet.h"
#include "tests/support/PrometheusScrape.h"

namespace pgmorph {
namespace {

TEST(Metrics, RendersCountersAndGaugesWithEscapedLabels) {
  Metrics m;
  m.declareCounter("pgmorph_changes_total", "Changes, by table\\op.\nSecond line.");
  m.declareGauge("pgmorph_lag_bytes", "Lag.");
  m.add("pgmorph_changes_total", {{"table", "a\"b\\c\nd"}, {"op", "insert"}}, 2);
  m.add("pgmorph_changes_total", {{"table", "a\"b\\c\nd"}, {"op", "insert"}}, 3);
  m.set("pgmorph_changes_total", {{"table", "plain"}, {"op", "delete"}}, 7);
  m.set("pgmorph_lag_bytes", 1.5);
  EXPECT_EQ(m.render(),
            "# HELP pgmorph_changes_total Changes, by table\\\\op.\\nSecond line.\n"
            "# TYPE pgmorph_changes_total counter\n"
            "pgmorph_changes_total{table=\"a\\\"b\\\\c\\nd\",op=\"insert\"} 5\n"
            "pgmorph_changes_total{table=\"plain\",op=\"delete\"} 7\n"
            "# HELP pgmorph_lag_bytes Lag.\n"
            "# TYPE pgmorph_lag_bytes gauge\n"
            "pgmorph_lag_bytes 1.5\n");
  EXPECT_EQ(m.value("pgmorph_changes_total", {{"table", "plain"}, {"op", "delete"}}), 7);
}

TEST(Metrics, RendersHistogramsCumulatively) {
  Metrics m;
  m.declareHistogram("pgmorph_batch_size_changes", "Batch.", {1, 10, 100});
  for (double v : {1.0, 5.0, 10.0, 11.0, 1000.0}) m.observe("pgmorph_batch_size_changes", v);
  EXPECT_EQ(m.render(),
            "# HELP pgmorph_batch_size_changes Batch.\n"
            "# TYPE pgmorph_batch_size_changes histogram\n"
            "pgmorph_batch_size_changes_bucket{le=\"1\"} 1\n"
            "pgmorph_batch_size_changes_bucket{le=\"10\"} 3\n"
            "pgmorph_batch_size_changes_bucket{le=\"100\"} 4\n"
            "pgmorph_batch_size_changes_bucket{le=\"+Inf\"} 5\n"
            "pgmorph_batch_size_changes_sum 1027\n"
            "pgmorph_batch_size_changes_count 5\n");
  m.observe("pgmorph_batch_size_changes", {{"side", "x"}}, 0.5);
  EXPECT_NE(m.render().find("pgmorph_batch_size_changes_bucket{side=\"x\",le=\"1\"} 1\n"),
            std::string::npos);
}

TEST(Metrics, RefusesUndeclaredOrMistypedFamilies) {
  Metrics m;
  m.declareGauge("g", "G.");
  EXPECT_THROW(m.set("nope", 1), std::logic_error);
  EXPECT_THROW(m.observe("g", 1), std::logic_error);
  EXPECT_THROW(m.declareCounter("g", "again"), std::logic_error);
  // A family declared without series shows its HELP and TYPE only.
  EXPECT_EQ(m.render(), "# HELP g G.\n# TYPE g gauge\n");
}

TEST(PipelineMetrics, PublishesApplyStatsAfterACommit) {
  PipelineMetrics pm(60);
  ApplyStats stats;
  stats.transactionsApplied = 3;
  stats.targetCommits = 2;
  stats.checkpoint = Lsn::parse("0/1A2B");
  stats.ops["orders"] = {5, 2, 1, 0};
  stats.tables["orders"].parked = 4;
  pm.onTargetCommit(stats, 8, 0.02);
  Metrics& m = pm.registry();
  EXPECT_EQ(m.value("pgmorph_source_transactions_applied_total"), 3);
  EXPECT_EQ(m.value("pgmorph_row_changes_applied_total", {{"table", "orders"}, {"op", "insert"}}),
            5);
  EXPECT_EQ(m.value("pgmorph_row_changes_applied_total", {{"table", "orders"}, {"op", "delete"}}),
            1);
  EXPECT_EQ(m.value("pgmorph_parking_events_total", {{"table", "orders"}, {"event", "parked"}}), 4);
  EXPECT_EQ(m.value("pgmorph_checkpoint_lsn"), 0x1A2B);
  EXPECT_EQ(m.value("pgmorph_batch_size_changes"), 1);
  EXPECT_EQ(m.value("pgmorph_apply_latency_seconds"), 1);
  // Caught up: the lag reads 0 whatever the last transaction's delay was.
  stats.lastApplyDelaySeconds = 9;
  pm.onProgress(stats, Lsn::parse("0/1A2B"), 4096);
  EXPECT_EQ(m.value("pgmorph_lag_bytes"), 0);
  EXPECT_EQ(m.value("pgmorph_lag_seconds"), 0);
  EXPECT_EQ(m.value("pgmorph_slot_retained_wal_bytes"), 4096);
  pm.onProgress(stats, Lsn::parse("0/1B2B"), std::nullopt);
  EXPECT_EQ(m.value("pgmorph_lag_bytes"), 0x100);
  EXPECT_EQ(m.value("pgmorph_lag_seconds"), 9);
}

// Everything PipelineMetrics declares, rendered with awkward label values, is Prometheus text to
// the Prometheus project's own parser, each family with its declared type.
TEST(PipelineMetrics, TheWholeRenderingParsesAsPrometheusText) {
  PipelineMetrics pm(60);
  ApplyStats stats;
  stats.transactionsApplied = 2;
  stats.ops["we\"ird\\table\nname"] = {1, 2, 3, 0};
  stats.tables["orders"].parked = 1;
  pm.onTargetCommit(stats, 6, 0.5);
  pm.onProgress(stats, Lsn::parse("0/10"), 128);
  auto parsed = test::PrometheusScrape::parse(pm.registry().render());
  EXPECT_EQ(parsed.families().at("pgmorph_row_changes_applied"), "counter");
  EXPECT_EQ(parsed.families().at("pgmorph_apply_latency_seconds"), "histogram");
  EXPECT_EQ(parsed.families().at("pgmorph_lag_seconds"), "gauge");
  EXPECT_EQ(parsed.value(
                R"(pgmorph_row_changes_applied_total{table="we\"ird\\table\nname",op="update"})"),
            2);
  EXPECT_EQ(parsed.value("pgmorph_apply_latency_seconds_count"), 1);
}

// pgmorph_parked_rows: what the parked store holds, by target table and the entry's kind; a
// series whose rows are gone reads 0 instead of its last count.
TEST(PipelineMetrics, ParkedRowsByTableAndReason) {
  PipelineMetrics pm(60);
  pm.onParkedCounts({{"public.orders", ParkKind::MissingParent, 3},
                     {"public.orders", ParkKind::Refused, 1},
                     {"public.notes", ParkKind::Unconvertible, 2}});
  Metrics& m = pm.registry();
  EXPECT_EQ(
      m.value("pgmorph_parked_rows", {{"table", "public.orders"}, {"reason", "missing_parent"}}),
      3);
  EXPECT_EQ(m.value("pgmorph_parked_rows", {{"table", "public.orders"}, {"reason", "refused"}}), 1);
  EXPECT_EQ(
      m.value("pgmorph_parked_rows", {{"table", "public.notes"}, {"reason", "unconvertible"}}), 2);
  pm.onParkedCounts({{"public.orders", ParkKind::MissingParent, 1}});
  EXPECT_EQ(
      m.value("pgmorph_parked_rows", {{"table", "public.orders"}, {"reason", "missing_parent"}}),
      1);
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE pgmorph_parked_rows gauge"), std::string::npos) << text;
  EXPECT_NE(text.find("pgmorph_parked_rows{table=\"public.orders\",reason=\"refused\"} 0\n"),
            std::string::npos)
      << text;
}

// pgmorph_snapshot_rows_copied_total: one series per source table as the mapping names it,
// the sum of every copy task reading it (two targets of one source table here), never the
// task's label.
TEST(PipelineMetrics, SnapshotRowsBySourceTable) {
  PipelineMetrics pm(60);
  SnapshotProgress progress(false, std::chrono::seconds(60), &pm);
  auto& a = progress.add("public.orders <- public.order #0", 10, true);
  a.sourceTable = "order";
  auto& b = progress.add("public.order_lines <- public.order #1", 10, true);
  b.sourceTable = "order";
  auto& c = progress.add("public.customers <- public.customer #0", 10, true);
  c.sourceTable = "customer";
  progress.add("indexes of public.orders", 0, false, true);
  a.addStored(7);
  b.addStored(5);
  c.addStored(2);
  progress.summary(1.0);
  Metrics& m = pm.registry();
  EXPECT_EQ(m.value("pgmorph_snapshot_rows_copied_total", {{"table", "order"}}), 12);
  EXPECT_EQ(m.value("pgmorph_snapshot_rows_copied_total", {{"table", "customer"}}), 2);
  std::string text = m.render();
  EXPECT_EQ(text.find("<-"), std::string::npos) << text;
}

TEST(Health, SaysWhyItIsNotHealthy) {
  Health h(5);
  EXPECT_FALSE(h.verdict().healthy);
  EXPECT_EQ(h.verdict().reason, "not streaming yet");
  h.streaming();
  EXPECT_TRUE(h.verdict().healthy);
  h.setLagSeconds(6);
  EXPECT_FALSE(h.verdict().healthy);
  EXPECT_EQ(h.verdict().reason, "lag too high: 6.0 s behind the source (max_lag_seconds 5)");
  h.setLagSeconds(1);
  h.down(Health::describeFailure("target",
                                 "cannot connect to the target database (host=x):\nrefused"));
  EXPECT_EQ(h.verdict().reason,
            "target down: cannot connect to the target database (host=x): refused");
  h.connecting();  // a retry: still down until it streams
  EXPECT_EQ(h.verdict().reason,
            "target down: cannot connect to the target database (host=x): refused");
  EXPECT_EQ(
      Health::describeFailure("replication", "the source server ended the replication stream"),
      "source down: the source server ended the replication stream");
  // The side comes from the error, not from what its message happens to say.
  EXPECT_EQ(Health::describeFailure("target", "the source row could not be written"),
            "target down: the source row could not be written");
  EXPECT_EQ(Health::describeFailure("", "target unreachable"), "retrying: target unreachable");
  h.stopped("slot is lost");
  EXPECT_EQ(h.verdict().reason, "stopped on an error: slot is lost");
}

using Reply = test::HttpReply;

Reply get(int port, const std::string& target) {
  return test::httpGet(port, target);
}

TEST(MetricsServer, ServesMetricsAndHealthAndRefusesABusyAddress) {
  MetricsEndpoint endpoint(MetricsConfig{}, "127.0.0.1:0", "p.yaml");
  ASSERT_NE(endpoint.metrics(), nullptr);
  unsigned short port = endpoint.port();
  ASSERT_NE(port, 0);
  Reply health = get(port, "/healthz");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body, "not streaming yet\n");
  endpoint.metrics()->health().streaming();
  health = get(port, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok: streaming\n");
  Reply metrics = get(port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(
      metrics.body.find("# TYPE pgmorph_start_time_seconds gauge\npgmorph_start_time_seconds "),
      std::string::npos);
  EXPECT_EQ(get(port, "/other").status, 404);

  try {
    MetricsEndpoint again(MetricsConfig{}, "127.0.0.1:" + std::to_string(port), "p.yaml");
    FAIL() << "bound a busy port";
  } catch (const PgmorphError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(std::string(e.what()).find("cannot serve metrics on 127.0.0.1:"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("(--metrics-address)"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  MetricsEndpoint off(MetricsConfig{}, "", "p.yaml");
  EXPECT_EQ(off.metrics(), nullptr);
}

}  // namespace
}  // namespace pgmorph
