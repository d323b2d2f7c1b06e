// Shared by the ordering tests against a real target: the dispatch example's own mapping
// turns hand-made source Changes into TargetWrites (the real Transformer), a BatchOrderer
// orders them by the FK graph read from the fresh target (target.sql), and the "naive"
// orders a replicator without the orderer would use, to show that they fail:
//   Source     the writes as the source emitted them, one statement each;
//   Table      grouped by target table, parents first (FK rank), source order inside;
//   Phases     upserts parent-first, then deletes child-first, nothing coalesced;
//   PlanGroups one group per (table, plan, op) in FK order — what batching writes into one
//              statement per table and operation does without the orderer.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "sink/tests/SinkFixture.h"
#include "transform/BatchOrderer.h"
#include "transform/Transformer.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph::ordertest {

enum class Naive { Source, Table, Phases, PlanGroups };

inline std::vector<std::string> dispatchTables() {
  std::vector<std::string> out;
  for (const char* t : {"offices", "profiles", "doctors", "patients", "orders", "jaws",
                        "case_files", "system_messages", "payments", "case_states", "order_states"})
    out.push_back(std::string("public.") + t);
  return out;
}

class OrderingTest : public sinktest::SinkTest {
 protected:
  OrderingTest() : config_(test::loadDispatch()), tf_(config_) {}

  void SetUp() override {
    SinkTest::SetUp();
    catalog_.emplace(TargetCatalog::read(*conn_, dispatchTables()));
    orderer_.emplace(catalog_->graph());
  }
  void TearDown() override {
    orderer_.reset();
    SinkTest::TearDown();
  }

  // --- source changes, in wal2json's shapes --------------------------------------------
  static test::Col ts(std::string name, std::string value = "2020-01-01 10:00:00") {
    return test::str(std::move(name), std::move(value), "timestamp without time zone");
  }
  static test::Col opt(std::string name, std::optional<std::string> v) {
    return v ? test::num(std::move(name), *v) : test::null(std::move(name));
  }
  static Change office(std::string id) {
    return test::makeChange(
        ChangeKind::Insert, "dispatch_office",
        {test::num("id", id), test::str("name", "Office " + id), test::str("address", "1 Main St"),
         test::str("country", "US", "character(2)"), ts("created_at")});
  }
  static Change user(ChangeKind kind, std::string id, std::string email, std::string oldId = "") {
    std::initializer_list<test::Col> identity = {test::num("id", oldId.empty() ? id : oldId)};
    return test::makeChange(
        kind, "dispatch_user",
        {test::num("id", id), test::str("email", std::move(email)), test::str("first_name", "F"),
         test::str("last_name", "L"), test::num("office_id", "1"),
         test::Col{"is_active", "1", ValueKind::Number, "smallint"}, ts("date_joined")},
        kind == ChangeKind::Insert ? std::initializer_list<test::Col>{} : identity);
  }
  static Change patient(std::string id) {
    return test::makeChange(
        ChangeKind::Insert, "dispatch_patient",
        {test::num("id", id), test::null("doctor_id"), test::num("office_id", "1"),
         test::str("first_name", "Pat"), test::str("last_name", "Ient"),
         test::str("birth_date", "1990-05-17", "date"),
         test::str("suffix", "AB12", "character(4)")});
  }
  static Change jaw(std::string id) {
    return test::makeChange(
        ChangeKind::Insert, "dispatch_jaw",
        {test::num("id", id), test::str("scan_file", "scan" + id + ".stl"), ts("created_at")});
  }
  static Change instruction(ChangeKind kind, std::string id, std::optional<std::string> upper,
                            std::optional<std::string> lower, std::string status = "0",
                            std::string notes = "notes", std::string oldId = "") {
    std::initializer_list<test::Col> identity = {test::num("id", oldId.empty() ? id : oldId)};
    return test::makeChange(
        kind, "dispatch_instruction",
        {test::num("id", id), test::num("patient_id", "1"), test::null("doctor_id"),
         opt("upper_jaw_id", upper), opt("lower_jaw_id", lower), test::num("status", status),
         test::num("price", "100.00"), test::str("notes", std::move(notes)),
         test::null("submitted_at"), ts("created_at")},
        kind == ChangeKind::Insert ? std::initializer_list<test::Col>{} : identity);
  }
  static Change payment(ChangeKind kind, std::string id, std::string instruction) {
    std::initializer_list<test::Col> identity = {test::num("id", id)};
    return test::makeChange(
        kind, "dispatch_payment",
        {test::num("id", id), test::num("instruction_id", instruction),
         test::num("amount", "10.50"), test::str("method", "card"), ts("paid_at")},
        kind == ChangeKind::Insert ? std::initializer_list<test::Col>{} : identity);
  }
  static Change notification(ChangeKind kind, std::string id, std::string recipient) {
    std::initializer_list<test::Col> identity = {test::num("id", id)};
    return test::makeChange(
        kind, "dispatch_notification",
        {test::num("id", id), test::num("recipient_id", recipient),
         test::str("template", "order_shipped"),
         test::str("template_context", "{\"n\": " + id + "}"), test::num("is_read", "0"),
         ts("created_at")},
        kind == ChangeKind::Insert ? std::initializer_list<test::Col>{} : identity);
  }
  static Change removed(std::string_view table, std::string id) {
    return test::makeChange(ChangeKind::Delete, table, {}, {test::num("id", std::move(id))});
  }

  // The writes of `changes`, in source order (the real Transformer, the real mapping).
  std::vector<TargetWrite> writesOf(std::initializer_list<Change> changes) {
    WriteBatch batch;
    for (const Change& c : changes) {
      TransformOutcome out = tf_.transform(c, batch);
      if (out.status != TransformOutcome::Status::Written)
        throw std::runtime_error("the test's change does not transform: " + out.problem);
    }
    return {batch.writes().begin(), batch.writes().end()};
  }

  // --- applying ----------------------------------------------------------------------
  void applyOrdered(const std::vector<TargetWrite>& writes, const RefusalHandler& onRefused = {}) {
    writer_->begin();
    writer_->applyOrdered(orderer_->order(writes), onRefused);
    writer_->commit(Lsn(++lsn_), 1);
  }

  std::vector<TargetWrite> naive(const std::vector<TargetWrite>& writes, Naive how) const {
    const FkGraph& g = catalog_->graph();
    auto rank = [&](const TargetWrite& w) { return g.rank(w.plan->targetName()); };
    std::vector<std::size_t> order(writes.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    switch (how) {
      case Naive::Source:
        break;
      case Naive::Table:
        std::stable_sort(order.begin(), order.end(),
                         [&](auto a, auto b) { return rank(writes[a]) < rank(writes[b]); });
        break;
      case Naive::Phases:
        std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) {
          bool da = writes[a].op == WriteOp::Delete, db = writes[b].op == WriteOp::Delete;
          if (da != db) return db;
          return da ? rank(writes[a]) > rank(writes[b]) : rank(writes[a]) < rank(writes[b]);
        });
        break;
      case Naive::PlanGroups: {
        std::vector<std::pair<const WritePlan*, WriteOp>> groups;
        auto group = [&](const TargetWrite& w) {
          auto key = std::make_pair(w.plan, w.op);
          auto it = std::find(groups.begin(), groups.end(), key);
          if (it == groups.end()) it = groups.insert(groups.end(), key);
          return static_cast<std::size_t>(it - groups.begin());
        };
        for (const auto& w : writes) group(w);
        std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) {
          if (rank(writes[a]) != rank(writes[b])) return rank(writes[a]) < rank(writes[b]);
          return group(writes[a]) < group(writes[b]);
        });
        break;
      }
    }
    std::vector<TargetWrite> out;
    for (std::size_t i : order) out.push_back(writes[i]);
    return out;
  }

  // Applies `writes` in a naive order, one statement each. Returns the refusal when the
  // target refuses one (the transaction is then rolled back); otherwise runs `inside` in the
  // still-open transaction (to look at what it made of the rows) and rolls back.
  std::optional<RefusedRow> applyNaive(const std::vector<TargetWrite>& writes, Naive how,
                                       const std::function<void()>& inside = {}) {
    auto ordered = naive(writes, how);
    writer_->begin();
    try {
      writer_->applyOrdered(sinktest::oneByOneInSourceOrder(ordered));
    } catch (const RefusedRowError& e) {
      EXPECT_FALSE(writer_->inTransaction());
      return e.row();
    }
    if (inside) inside();
    writer_->rollback();
    return std::nullopt;
  }

  // One value through the writer's own connection: sees its open transaction.
  std::string mine(std::string_view sql,
                   std::initializer_list<std::optional<std::string_view>> params = {}) {
    auto res = conn_->execParams(sql, params);
    if (res.rows() == 0) return "<no row>";
    return res.isNull(0, 0) ? "<null>" : std::string(res.value(0, 0));
  }
  std::string jawState(PgConnection& c, std::string_view jawKey) {
    std::string id = tf_.ids().id("dispatch_jaw", jawKey).str();
    auto res = c.execParams(
        "SELECT coalesce(o.legacy_instruction_id::text, '-') || ' ' || coalesce(j.jaw_type, '-')"
        " FROM jaws j LEFT JOIN orders o ON o.id = j.order_id WHERE j.id = $1",
        {id});
    return res.rows() ? std::string(res.value(0, 0)) : "<no row>";
  }
  std::string id(std::string_view table, std::string_view key) const {
    return tf_.ids().id(table, key).str();
  }

  PipelineConfig config_;
  Transformer tf_;
  std::optional<TargetCatalog> catalog_;
  std::optional<BatchOrderer> orderer_;
  std::uint64_t lsn_ = 0x100;
};

}  // namespace pgmorph::ordertest
