// Shared by the TransactionApplier tests: a fresh target database with a small schema of its
// own (customers, and orders that reference them by a foreign key; integer legacy keys mapped
// to uuid ids), the mapping of two legacy tables onto it, and the whole real write path of a
// follow run over it — Transformer, CheckpointStore, TargetWriter and the TransactionApplier
// under test — plus builders of synthetic source transactions (B, I/U/D, C) and readers that
// look at the target through a second session (it sees only what the applier has committed).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/follow/ApplyStats.h"
#include "app/follow/TransactionApplier.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "tests/support/SharedClusters.h"
#include "transform/Transformer.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph::appliertest {

using test::makeChange;
using test::num;
using test::str;

inline constexpr const char* kTargetSql = R"sql(
CREATE TABLE customers (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL,
    legacy_customer_id  integer UNIQUE
);
CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    item             text NOT NULL,
    legacy_order_id  integer UNIQUE
);
CREATE INDEX orders_customer_id ON orders (customer_id);
)sql";

// batch_ms is the largest allowed: only batch_changes decides when the batch is full. With
// `sessions` > 1 the applier opens its other sessions itself, to `targetConninfo`.
inline std::string mappingYaml(std::size_t batchChanges, std::uint32_t sessions = 1,
                               const std::string& targetConninfo = "dbname=unused",
                               std::uint32_t lockTimeoutMillis = 2000) {
  return fmt::format(R"(pipeline: shop
source: {{ conninfo: "dbname=unused", slot: pgmorph_shop }}
target: {{ conninfo: "{}", state_schema: pgmorph }}
ids: {{ namespace: 0e7f6a52-3b1d-4c8e-9f2a-6d5c4b3a2910 }}
apply: {{ batch_changes: {}, batch_ms: 3600000, sessions: {}, lock_timeout_ms: {} }}
tables:
  legacy_customer:
    - target: customers
      key: id
      legacy_id: legacy_customer_id
      columns:
        name: name
  legacy_order:
    - target: orders
      key: id
      legacy_id: legacy_order_id
      columns:
        customer_id: {{ to: customer_id, ref: legacy_customer }}
        item: item
)",
                     targetConninfo, batchChanges, sessions, lockTimeoutMillis);
}

// The checkpoint the applier starts from (recorded on the target as a follow run does).
inline constexpr Lsn kStart{0x5000};

// One source transaction's positions: B and C carry the commit record's LSN and its end.
struct Txn {
  std::uint32_t xid;
  Lsn commitLsn;
  Lsn end;  // zero: B does not carry it (then C may)
};

inline Change boundary(ChangeKind kind, const Txn& t) {
  Change c;
  c.kind = kind;
  c.xid = t.xid;
  c.lsn = t.commitLsn;
  c.nextLsn = t.end;
  c.commitTimeMicros = 1735725600000000;  // 2025-01-01 10:00:00 UTC
  return c;
}

inline Change customer(int id, std::string name = "", ChangeKind kind = ChangeKind::Insert) {
  if (name.empty()) name = fmt::format("Customer {}", id);
  std::string key = std::to_string(id);
  return makeChange(kind, "legacy_customer", {num("id", key), str("name", name)},
                    kind == ChangeKind::Update ? std::initializer_list<test::Col>{num("id", key)}
                                               : std::initializer_list<test::Col>{});
}
inline Change order(int id, int customerId) {
  return makeChange(ChangeKind::Insert, "legacy_order",
                    {num("id", std::to_string(id)), num("customer_id", std::to_string(customerId)),
                     str("item", fmt::format("item {}", id))});
}
inline Change removal(std::string_view table, int id) {
  return makeChange(ChangeKind::Delete, table, {}, {num("id", std::to_string(id))});
}

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("applier");
    test::sharedTarget().psql(db_, kTargetSql);
    conn_.emplace(test::sharedTarget().conninfo(db_), "target");
    observer_.emplace(test::sharedTarget().conninfo(db_), "observer");
    store_.ensureSchema(*conn_);
    conn_->exec("BEGIN");
    store_.save(*conn_, kStart, "pgmorph_shop", 0);
    conn_->exec("COMMIT");
  }
  void TearDown() override {
    stop();
    conn_.reset();
    observer_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  // (Re)builds the write path with apply.batch_changes = `batchChanges`, from `checkpoint`.
  // With `sessions` > 1, `stats_` is kept (as a follow run keeps it across retries).
  void start(std::size_t batchChanges, Lsn checkpoint = kStart, std::uint32_t sessions = 1,
             std::uint32_t lockTimeoutMillis = 2000) {
    stop();
    config_ = std::make_unique<PipelineConfig>(test::load(mappingYaml(
        batchChanges, sessions, test::sharedTarget().conninfo(db_), lockTimeoutMillis)));
    transformer_ = std::make_unique<Transformer>(*config_);
    writer_ = std::make_unique<TargetWriter>(*conn_, store_, config_->source.slot);
    if (sessions <= 1) stats_ = ApplyStats{};
    applier_ =
        std::make_unique<TransactionApplier>(*config_, *transformer_, *writer_, checkpoint, stats_);
  }
  void stop() {
    applier_.reset();
    writer_.reset();
    transformer_.reset();
    config_.reset();
  }

  // Feeds B, the rows (their LSNs below the commit's) and, when `close`, C.
  void feed(const Txn& t, std::vector<Change> rows, bool close = true) {
    applier_->onChange(boundary(ChangeKind::Begin, t));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i].lsn = Lsn(t.commitLsn.value() - 0x10 * (rows.size() - i));
      applier_->onChange(rows[i]);
    }
    if (close) applier_->onChange(boundary(ChangeKind::Commit, t));
  }

  // Seen by the observer session: "1,2,3" (legacy keys, ascending), "" when none.
  std::string legacyKeys(std::string_view table, std::string_view column) {
    auto res = observer_->exec(fmt::format(
        "SELECT coalesce(string_agg({0}::text, ',' ORDER BY {0}), '') FROM {1}", column, table));
    return std::string(res.value(0, 0));
  }
  std::string customers() { return legacyKeys("customers", "legacy_customer_id"); }
  // Parked entries of the pipeline by kind and legacy key ("refused:5,missing_parent:10").
  std::string parked() {
    auto res = observer_->exec(
        "SELECT coalesce(string_agg(kind || ':' || legacy_key, ',' ORDER BY kind, legacy_key), "
        "'') FROM pgmorph.parked WHERE pipeline = 'shop'");
    return std::string(res.value(0, 0));
  }
  std::string name(int customer) {
    auto res = observer_->exec(fmt::format(
        "SELECT coalesce(min(name), '<none>') FROM customers WHERE legacy_customer_id = {}",
        customer));
    return std::string(res.value(0, 0));
  }
  std::string orders() { return legacyKeys("orders", "legacy_order_id"); }
  // The checkpoint row, as committed.
  Checkpoint stored() {
    auto cp = store_.load(*observer_);
    EXPECT_TRUE(cp.has_value()) << "no checkpoint row";
    return cp.value_or(Checkpoint{});
  }
  // The transaction that last wrote the checkpoint row (changes with any UPDATE of it).
  std::string checkpointXmin() {
    auto res = observer_->execParams(
        "SELECT xmin::text FROM pgmorph.checkpoint WHERE pipeline = $1", {store_.pipeline()});
    return std::string(res.value(0, 0));
  }

  std::string db_;
  std::optional<PgConnection> conn_, observer_;
  CheckpointStore store_{"pgmorph", "shop"};
  std::unique_ptr<PipelineConfig> config_;
  std::unique_ptr<Transformer> transformer_;
  std::unique_ptr<TargetWriter> writer_;
  ApplyStats stats_;
  std::unique_ptr<TransactionApplier> applier_;
};

}  // namespace pgmorph::appliertest
