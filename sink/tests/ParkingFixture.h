// Shared by the parking tests: a fresh target (target.sql) and the whole write path of a
// follow run over it — the real Transformer of the dispatch mapping (optionally edited),
// TargetCatalog, BatchOrderer, TargetWriter, ParkedStore, ChangeParker and ParkingApplier — driven
// one source transaction at a time the way TransactionApplier drives it; plus builders of the
// dispatch example's source changes in wal2json's shapes, and readers of target and parked rows.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "sink/ChangeParker.h"
#include "sink/ParkingApplier.h"
#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "state/ParkedStore.h"
#include "tests/support/SharedClusters.h"
#include "transform/BatchOrderer.h"
#include "transform/Transformer.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph::parkingtest {

using test::Col;
using test::makeChange;
using test::null;
using test::num;
using test::str;

inline Col ts(std::string name, std::string value = "2019-01-01 00:00:00") {
  return str(std::move(name), std::move(value), "timestamp without time zone");
}
inline Col ref(std::string name, std::optional<std::string> key) {
  return key ? num(std::move(name), *key) : null(std::move(name));
}

// Source rows of the dispatch example (source.sql), as inserts.
inline Change office(std::string id) {
  return makeChange(ChangeKind::Insert, "dispatch_office",
                    {num("id", id), str("name", "Office " + id), str("address", id + " Main St"),
                     str("country", "US", "character(2)"), ts("created_at")});
}
inline Change user(std::string id, std::string email = "", ChangeKind kind = ChangeKind::Insert) {
  if (email.empty()) email = "user" + id + "@example.com";
  return makeChange(kind, "dispatch_user",
                    {num("id", id), str("email", email), str("first_name", "First" + id),
                     str("last_name", "Last" + id), num("office_id", "1"),
                     Col{"is_active", "1", ValueKind::Number, "smallint"}, ts("date_joined")},
                    kind == ChangeKind::Update ? std::initializer_list<Col>{num("id", id)}
                                               : std::initializer_list<Col>{});
}
inline Change doctor(std::string id, std::string userId) {
  return makeChange(ChangeKind::Insert, "dispatch_doctor",
                    {num("id", id), num("user_id", userId), num("office_id", "1"),
                     str("license_no", "LIC-" + id)});
}
inline Change patient(std::string id, std::optional<std::string> doctorId,
                      ChangeKind kind = ChangeKind::Insert, std::string lastName = "") {
  if (lastName.empty()) lastName = "Ient" + id;
  return makeChange(
      kind, "dispatch_patient",
      {num("id", id), ref("doctor_id", doctorId), num("office_id", "1"),
       str("first_name", "Pat" + id), str("last_name", lastName),
       str("birth_date", "1990-05-17", "date"), str("suffix", "AB12", "character(4)")},
      kind == ChangeKind::Update ? std::initializer_list<Col>{num("id", id)}
                                 : std::initializer_list<Col>{});
}
inline Change jaw(std::string id) {
  return makeChange(ChangeKind::Insert, "dispatch_jaw",
                    {num("id", id), str("scan_file", "scan_" + id + ".stl"), ts("created_at")});
}
inline Change instruction(std::string id, std::string patientId,
                          std::optional<std::string> doctorId, std::optional<std::string> upper,
                          std::optional<std::string> lower, ChangeKind kind = ChangeKind::Insert,
                          std::string status = "0") {
  return makeChange(kind, "dispatch_instruction",
                    {num("id", id), num("patient_id", patientId), ref("doctor_id", doctorId),
                     ref("upper_jaw_id", upper), ref("lower_jaw_id", lower),
                     Col{"status", status, ValueKind::Number, "smallint"}, num("price", "100.00"),
                     str("notes", "note " + id), null("submitted_at"), ts("created_at")},
                    kind == ChangeKind::Update ? std::initializer_list<Col>{num("id", id)}
                                               : std::initializer_list<Col>{});
}
inline Change file(std::string id, std::string instructionId) {
  return makeChange(ChangeKind::Insert, "dispatch_file",
                    {num("id", id), num("instruction_id", instructionId),
                     str("name", id + "_scan.stl"), num("size", "1000"), ts("created_at")});
}
inline Change notification(std::string id, std::string recipient,
                           std::string context = R"({"order": 1})",
                           ChangeKind kind = ChangeKind::Insert, std::string isRead = "0") {
  return makeChange(kind, "dispatch_notification",
                    {num("id", id), num("recipient_id", recipient),
                     str("template", "order_shipped"), str("template_context", context),
                     Col{"is_read", isRead, ValueKind::Number, "smallint"}, ts("created_at")},
                    kind == ChangeKind::Update ? std::initializer_list<Col>{num("id", id)}
                                               : std::initializer_list<Col>{});
}
inline Change removal(std::string table, std::string id) {
  return makeChange(ChangeKind::Delete, table, {}, {num("id", id)});
}

inline Uuid idOf(std::string_view sourceTable, std::string_view key) {
  static const Uuid ns = Uuid::parse("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");
  return uuidV5(ns, fmt::format("{}:{}", sourceTable, key));
}

class ParkingTest : public ::testing::Test {
 protected:
  // The target database of a test (dropped in TearDown): one in the cluster's default encoding.
  virtual std::string createTargetDatabase() {
    return test::sharedTarget().createDatabase("parking");
  }
  void SetUp() override {
    db_ = createTargetDatabase();
    test::sharedTarget().psqlFile(db_, test::sourceDir() + "/deploy/examples/dispatch/target.sql");
    conn_.emplace(test::sharedTarget().conninfo(db_), "target");
    observer_.emplace(test::sharedTarget().conninfo(db_), "observer");
    checkpoints_.ensureSchema(*conn_);
    start();
  }
  void TearDown() override {
    stop();
    conn_.reset();
    observer_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  // (Re)builds the write path; `edit` changes the mapping text first (on_missing, on_error).
  void start(const std::function<std::string(std::string)>& edit = {}) {
    stop();
    std::string yaml = test::dispatchMappingText();
    if (edit) yaml = edit(yaml);
    config_ = std::make_unique<PipelineConfig>(
        ConfigLoader::fromString(yaml, "mapping.yaml", test::noEnv()));
    transformer_ = std::make_unique<Transformer>(*config_);
    catalog_ =
        std::make_unique<TargetCatalog>(TargetCatalog::read(*conn_, transformer_->targetTables()));
    orderer_ = std::make_unique<BatchOrderer>(catalog_->graph());
    writer_ = std::make_unique<TargetWriter>(*conn_, checkpoints_, "slot");
    parking_ = std::make_unique<ParkingApplier>(*conn_, transformer_->plans(), *writer_, *catalog_,
                                                *orderer_, store_, counts_);
    changes_ = std::make_unique<ChangeParker>(*conn_, transformer_->config(), store_, counts_);
    changes_->load();
  }
  void stop() {
    changes_.reset();
    parking_.reset();
    writer_.reset();
    orderer_.reset();
    catalog_.reset();
    transformer_.reset();
    config_.reset();
  }
  // Replaces `from` by `to` in the mapping text (exactly once).
  static std::function<std::string(std::string)> replace(std::string from, std::string to) {
    return [from, to](std::string yaml) {
      auto at = yaml.find(from);
      EXPECT_NE(at, std::string::npos) << "mapping.yaml has no '" << from << "'";
      if (at != std::string::npos) yaml.replace(at, from.size(), to);
      return yaml;
    };
  }

  // One source transaction, applied and committed as TransactionApplier would. Returns the
  // outcome of each change (Failed + Park = parked).
  std::vector<TransformOutcome> txn(const std::vector<Change>& changes) {
    std::vector<TransformOutcome> outcomes;
    writer_->begin();
    auto flush = [&] {
      if (!batch_.empty()) parking_->apply(batch_.writes());
      batch_.clear();
    };
    try {
      auto prepare = [&] { flush(); };
      for (const Change& c : changes) {
        // As TransactionApplier::transform does for a mapped table.
        const TableMapping* table = transformer_->config().findTable(c.schema(), c.table());
        if (!table) {
          outcomes.push_back(transformer_->transform(c, batch_));
          continue;
        }
        const Change* merged = changes_->takeParked(*table, c, prepare);
        const Change& input = merged ? *merged : c;
        outcomes.push_back(transformer_->transformWithPolicy(input, batch_));
        changes_->settle(*table, input, outcomes.back(), prepare);
      }
      flush();
      writer_->commit(Lsn(++lsn_), 1);
    } catch (...) {
      batch_.clear();
      writer_->rollback();
      throw;
    }
    return outcomes;
  }

  // `pgmorph parked retry` of `ids` (every entry when empty), as ParkedCommand does it; the
  // caller opens and ends the transaction.
  ParkingApplier::RetryReport retry(std::vector<std::int64_t> ids) {
    return parking_->retry(ids, [&](const ParkedRow& row, WriteBatch& out) {
      return changes_->retry(row, out, [&](const Change& change, WriteBatch& writes) {
        return transformer_->transformWithPolicy(change, writes);
      });
    });
  }

  // One value seen by the observer; "<null>" for NULL, "<no row>" for no row.
  std::string value(std::string_view sql,
                    std::initializer_list<std::optional<std::string_view>> params = {}) {
    auto res = observer_->execParams(sql, params);
    if (res.rows() == 0) return "<no row>";
    return res.isNull(0, 0) ? "<null>" : std::string(res.value(0, 0));
  }
  std::string column(std::string_view table, const Uuid& id, std::string_view column) {
    std::string idText = id.str();
    return value(fmt::format("SELECT {}::text FROM {} WHERE id = $1", column, table), {idText});
  }
  bool exists(std::string_view table, const Uuid& id) {
    return column(table, id, "id") != "<no row>";
  }
  std::vector<ParkedRow> parked(ParkedStore::Filter filter = {}) {
    return store_.list(*observer_, filter);
  }
  std::int64_t parkedCount() { return store_.count(*observer_); }

  std::string db_;
  std::optional<PgConnection> conn_, observer_;
  CheckpointStore checkpoints_{"pgmorph", "dispatch"};
  ParkedStore store_{"pgmorph", "dispatch"};
  TableCountsMap counts_;
  std::unique_ptr<PipelineConfig> config_;
  std::unique_ptr<Transformer> transformer_;
  std::unique_ptr<TargetCatalog> catalog_;
  std::unique_ptr<BatchOrderer> orderer_;
  std::unique_ptr<TargetWriter> writer_;
  std::unique_ptr<ParkingApplier> parking_;
  std::unique_ptr<ChangeParker> changes_;
  WriteBatch batch_;
  std::uint64_t lsn_ = 0x100;
};

}  // namespace pgmorph::parkingtest
