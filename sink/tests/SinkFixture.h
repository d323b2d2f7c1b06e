// Shared by the sink tests: hand-made WritePlans of the dispatch example (what Transformer
// builds from deploy/examples/dispatch/mapping.yaml), builders of TargetWrites, and a
// fixture with a fresh target database loaded with target.sql, a writer connection and an
// observer connection (a second session: it sees only what the writer has committed).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cdc/model/Uuid.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetWriter.h"
#include "sink/tests/SourceOrder.h"
#include "state/CheckpointStore.h"
#include "tests/support/SharedClusters.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph::sinktest {

// One value of a write: text, NULL, or absent (unchanged TOAST).
struct Val {
  ValueState state = ValueState::Present;
  std::string text;
  Val(const char* s) : text(s) {}
  Val(std::string s) : text(std::move(s)) {}
  static Val null() { return Val(ValueState::Null); }
  static Val absent() { return Val(ValueState::Absent); }

 private:
  explicit Val(ValueState s) : state(s) {}
};

inline Uuid idOf(std::string_view sourceTable, std::string_view key) {
  static const Uuid ns = Uuid::parse("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");
  return uuidV5(ns, fmt::format("{}:{}", sourceTable, key));
}

inline const Lsn kLsn = Lsn::parse("0/1A2B3C");

inline void addValues(TargetWrite& w, const std::vector<Val>& values) {
  for (const auto& v : values) {
    if (v.state == ValueState::Present)
      w.addValue(v.text);
    else if (v.state == ValueState::Null)
      w.addNull();
    else
      w.addAbsent();
  }
}

// Upsert of source row `key`: the id comes first, then `rest` in plan.columns[1..] order.
inline TargetWrite upsert(const WritePlan& p, std::string_view key, const std::vector<Val>& rest) {
  TargetWrite w;
  w.op = WriteOp::Upsert;
  w.plan = &p;
  w.row = idOf(p.source->sourceTable, key);
  w.lsn = kLsn;
  w.setLegacyKey(key);
  w.addValue(w.row.str());
  addValues(w, rest);
  return w;
}

inline TargetWrite remove(const WritePlan& p, std::string_view key) {
  TargetWrite w;
  w.op = WriteOp::Delete;
  w.plan = &p;
  w.row = idOf(p.source->sourceTable, key);
  w.lsn = kLsn;
  w.setLegacyKey(key);
  return w;
}

// SetColumns on a partial target: source row `key` completes target row `row`.
inline TargetWrite setColumns(const WritePlan& p, std::string_view key, const Uuid& row,
                              const std::vector<Val>& values) {
  TargetWrite w;
  w.op = WriteOp::SetColumns;
  w.plan = &p;
  w.row = row;
  w.lsn = kLsn;
  w.setLegacyKey(key);
  addValues(w, values);
  return w;
}

// Release of what source row `key` filled (owner values), keeping `keep` when given.
inline TargetWrite release(const WritePlan& p, std::string_view key, const std::vector<Val>& owners,
                           std::optional<Uuid> keep) {
  TargetWrite w;
  w.op = WriteOp::Release;
  w.plan = &p;
  w.hasRow = keep.has_value();
  if (keep) w.row = *keep;
  w.lsn = kLsn;
  w.setLegacyKey(key);
  addValues(w, owners);
  return w;
}

inline TargetWrite truncate(const WritePlan& p) {
  TargetWrite w;
  w.op = WriteOp::Truncate;
  w.plan = &p;
  w.hasRow = false;
  w.lsn = kLsn;
  return w;
}

// The dispatch example's mapping as Transformer lays it out (see mapping.yaml, WritePlan.h).
struct DispatchPlans {
  TableMapping office, user, patient, instruction, jaw, file, notification;
  WritePlan offices, profiles, patients, orders, jaws, upperJaws, lowerJaws, caseFiles, messages;

  DispatchPlans() {
    upsertPlan(office, "dispatch_office", offices, "offices",
               {"id", "legacy_office_id", "name", "address", "country_code", "created_at"}, {});
    upsertPlan(user, "dispatch_user", profiles, "profiles",
               {"id", "legacy_user_id", "email", "first_name", "last_name", "office_id",
                "is_active", "joined_at"},
               {{"office_id", "dispatch_office"}});
    upsertPlan(patient, "dispatch_patient", patients, "patients",
               {"id", "legacy_patient_id", "doctor_id", "office_id", "first_name", "last_name",
                "birth_date", "suffix"},
               {{"doctor_id", "dispatch_doctor"}, {"office_id", "dispatch_office"}});
    upsertPlan(instruction, "dispatch_instruction", orders, "orders",
               {"id", "legacy_instruction_id", "patient_id", "doctor_id", "status", "price",
                "notes", "submitted_at", "created_at"},
               {{"patient_id", "dispatch_patient"}, {"doctor_id", "dispatch_doctor"}});
    upsertPlan(jaw, "dispatch_jaw", jaws, "jaws",
               {"id", "legacy_jaw_id", "scan_file", "created_at"}, {});
    upsertPlan(file, "dispatch_file", caseFiles, "case_files",
               {"id", "legacy_file_id", "order_id", "file_name", "size_bytes", "uploaded_at"},
               {{"order_id", "dispatch_instruction"}});
    upsertPlan(notification, "dispatch_notification", messages, "system_messages",
               {"id", "legacy_notification_id", "recipient_id", "template", "context", "is_read",
                "created_at"},
               {{"recipient_id", "dispatch_user"}});
    // The order completes its jaws (mode: update), one partial target per jaw column.
    partialJawPlan(upperJaws, "upper");
    partialJawPlan(lowerJaws, "lower");
  }
  DispatchPlans(const DispatchPlans&) = delete;
  DispatchPlans& operator=(const DispatchPlans&) = delete;

 private:
  static void upsertPlan(TableMapping& src, std::string sourceTable, WritePlan& plan,
                         std::string target, std::vector<std::string> columns,
                         std::vector<std::pair<std::string, std::string>> refs) {
    src.sourceTable = std::move(sourceTable);
    src.targets.reserve(3);  // plans point into this vector: it must never reallocate
    src.targets.emplace_back();
    src.targets.back().target = target;
    plan.source = &src;
    plan.mapping = &src.targets.back();
    plan.targetSchema = "public";
    plan.targetTable = std::move(target);
    plan.idColumn = "id";
    plan.columns = std::move(columns);
    plan.refTables.assign(plan.columns.size(), "");
    for (const auto& [column, table] : refs)
      for (std::size_t i = 0; i < plan.columns.size(); ++i)
        if (plan.columns[i] == column) plan.refTables[i] = table;
  }

  void partialJawPlan(WritePlan& plan, std::string jawType) {
    instruction.targets.emplace_back();
    TargetMapping& m = instruction.targets.back();
    m.target = "jaws";
    m.mode = TargetMode::Update;
    m.keyTable = "dispatch_jaw";
    plan.source = &instruction;
    plan.mapping = &m;
    plan.targetSchema = "public";
    plan.targetTable = "jaws";
    plan.idColumn = "id";
    plan.columns = {"order_id", "jaw_type"};
    plan.ownerColumns = {"order_id", "jaw_type"};
    plan.constantOwners = {{"jaw_type", jawType}};
    plan.refTables = {"dispatch_instruction", ""};
  }
};

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("sink");
    test::sharedTarget().psqlFile(db_, test::sourceDir() + "/deploy/examples/dispatch/target.sql");
    conn_.emplace(test::sharedTarget().conninfo(db_), "target");
    observer_.emplace(test::sharedTarget().conninfo(db_), "observer");
    store_.ensureSchema(*conn_);
    writer_.emplace(*conn_, store_, "pgmorph_dispatch");
  }
  void TearDown() override {
    writer_.reset();
    conn_.reset();
    observer_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  // One value seen by the observer session; "<null>" for NULL, "<no row>" for no row.
  std::string value(std::string_view sql,
                    std::initializer_list<std::optional<std::string_view>> params = {}) {
    auto res = observer_->execParams(sql, params);
    if (res.rows() == 0) return "<no row>";
    return res.isNull(0, 0) ? "<null>" : std::string(res.value(0, 0));
  }
  long count(std::string_view table) {
    return std::stol(value(fmt::format("SELECT count(*) FROM {}", table)));
  }
  // The listed columns of one row, joined by '|' ("<null>" for NULL), as the observer sees it.
  std::string row(std::string_view table, const Uuid& id, std::string_view columns) {
    std::string list;
    for (std::size_t start = 0; start <= columns.size();) {
      auto end = columns.find(',', start);
      if (end == std::string_view::npos) end = columns.size();
      auto column = columns.substr(start, end - start);
      while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
      if (!list.empty()) list += ", '|', ";
      list += fmt::format("coalesce({}::text, '<null>')", observer_->quoteIdent(column));
      start = end + 1;
    }
    std::string idText = id.str();
    return value(fmt::format("SELECT concat({}) FROM {} WHERE id = $1", list, table), {idText});
  }
  std::optional<Checkpoint> checkpoint() { return store_.load(*observer_); }

  // `writes` in the given order, one statement each (see SourceOrder.h), in one transaction.
  void applyAndCommit(const std::vector<TargetWrite>& writes, Lsn end = Lsn::parse("0/100"),
                      std::int64_t transactions = 1) {
    writer_->begin();
    writer_->applyOrdered(oneByOneInSourceOrder(writes));
    writer_->commit(end, transactions);
  }

  // Office 1, user 1, patient 1, orders 1 and 2, jaws 1..3 (no order yet), committed.
  void seed() {
    std::vector<TargetWrite> w;
    w.push_back(upsert(plans_.offices, "1",
                       {"1", "Main office", "1 Main St", "US", "2019-01-01 05:00:00 UTC"}));
    w.push_back(upsert(
        plans_.profiles, "1",
        {"1", "ann@example.com", "Ann", "Smith", officeId(), "true", "2019-01-01 05:00:00 UTC"}));
    w.push_back(upsert(plans_.patients, "1",
                       {"1", Val::null(), officeId(), "Pat", "Jones", "1990-05-17", "AB12"}));
    for (const char* key : {"1", "2"})
      w.push_back(upsert(plans_.orders, key,
                         {key, patientId(), Val::null(), "draft", "100.00", "first notes",
                          Val::null(), "2019-01-01 05:00:00 UTC"}));
    for (const char* key : {"1", "2", "3"})
      w.push_back(upsert(plans_.jaws, key,
                         {key, fmt::format("scan-{}.stl", key), "2019-01-01 05:00:00 UTC"}));
    applyAndCommit(w, Lsn::parse("0/10"));
  }
  std::string officeId() { return idOf("dispatch_office", "1").str(); }
  std::string userId() { return idOf("dispatch_user", "1").str(); }
  std::string patientId() { return idOf("dispatch_patient", "1").str(); }
  Uuid orderId(std::string_view key = "1") { return idOf("dispatch_instruction", key); }
  Uuid jawId(std::string_view key) { return idOf("dispatch_jaw", key); }

  std::string db_;
  std::optional<PgConnection> conn_, observer_;
  CheckpointStore store_{"pgmorph", "dispatch"};
  DispatchPlans plans_;
  std::optional<TargetWriter> writer_;
};

}  // namespace pgmorph::sinktest
