// Shared by the tests of rows that reference each other on a real target (OrderingCycleTest,
// OrderingCycleDeleteTest).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <ostream>

#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "sink/tests/SourceOrder.h"
#include "state/CheckpointStore.h"
#include "tests/support/SharedClusters.h"
#include "transform/BatchOrderer.h"

namespace pgmorph::cycletest {

inline Uuid rowId(int n) {
  return Uuid::parse(fmt::format("00000000-0000-4000-8000-{:012d}", n));
}

// A fresh target database per test with the tables a test declares, a writer, the FK graph
// read from it and an orderer; writes of plans (id, <reference>, name) built by hand.
class CycleFixture : public ::testing::Test {
 protected:
  void open(const std::string& ddl, const std::vector<std::string>& tables) {
    db_ = test::sharedTarget().createDatabase("cycle");
    test::sharedTarget().psql(db_, ddl);
    conn_.emplace(test::sharedTarget().conninfo(db_), "target");
    observer_.emplace(test::sharedTarget().conninfo(db_), "observer");
    store_.ensureSchema(*conn_);
    writer_.emplace(*conn_, store_, "slot");
    std::vector<std::string> qualified;
    for (const auto& t : tables) qualified.push_back("public." + t);
    catalog_.emplace(TargetCatalog::read(*conn_, qualified));
    orderer_.emplace(catalog_->graph());
  }
  void TearDown() override {
    orderer_.reset();
    writer_.reset();
    conn_.reset();
    observer_.reset();
    if (!db_.empty()) test::sharedTarget().dropDatabase(db_);
  }

  const WritePlan& plan(std::string table, std::string refColumn) {
    sources_.emplace_back();
    TableMapping& src = sources_.back();
    src.sourceTable = "legacy_" + table;
    src.targets.emplace_back();
    src.targets.back().target = table;
    WritePlan& p = plans_.emplace_back();
    p.source = &src;
    p.mapping = &src.targets.back();
    p.targetSchema = "public";
    p.targetTable = std::move(table);
    p.idColumn = "id";
    p.columns = {"id", std::move(refColumn), "name"};
    p.refTables.assign(p.columns.size(), "");
    return p;
  }
  // Upsert of row n referencing row `ref` (0: NULL).
  static void upsert(std::vector<TargetWrite>& out, const WritePlan& p, int n, int ref) {
    TargetWrite& w = out.emplace_back();
    w.op = WriteOp::Upsert;
    w.plan = &p;
    w.row = rowId(n);
    w.lsn = Lsn(out.size());
    w.setLegacyKey(std::to_string(n));
    w.addValue(w.row.str());
    if (ref)
      w.addValue(rowId(ref).str());
    else
      w.addNull();
    w.addValue("row " + std::to_string(n));
  }
  static void remove(std::vector<TargetWrite>& out, const WritePlan& p, int n) {
    TargetWrite& w = out.emplace_back();
    w.op = WriteOp::Delete;
    w.plan = &p;
    w.row = rowId(n);
    w.lsn = Lsn(out.size());
    w.setLegacyKey(std::to_string(n));
  }
  // Rows written directly (as the snapshot would have left them): "table:n->ref" pairs are
  // inserted with NULL references first, then linked, in one transaction; a NOT NULL
  // column gets all of a table's rows in one INSERT (checked at the statement's end).
  void seed(const std::string& sql) { test::sharedTarget().psql(db_, sql); }
  static std::string id(int n) { return "'" + rowId(n).str() + "'"; }

  // One statement per write, in the given order: the refusal, if the target refuses one.
  std::optional<RefusedRow> applyInSourceOrder(const std::vector<TargetWrite>& writes) {
    writer_->begin();
    try {
      writer_->applyOrdered(sinktest::oneByOneInSourceOrder(writes));
    } catch (const RefusedRowError& e) {
      return e.row();
    } catch (const PgError& e) {
      // A deferred check fails at COMMIT, not on a row.
      RefusedRow r;
      r.sqlstate = e.sqlstate();
      r.message = e.what();
      return r;
    }
    try {
      writer_->commit(Lsn(++lsn_), 1);
      return std::nullopt;
    } catch (const PgError& e) {
      RefusedRow r;
      r.sqlstate = e.sqlstate();
      r.message = e.what();
      return r;
    }
  }
  // The ordered batch, committed; throws what the writer throws (nothing is parked here: a
  // refusal is a failure of the test).
  void applyOrdered(const std::vector<TargetWrite>& writes) {
    writer_->begin();
    writer_->applyOrdered(orderer_->order(writes), [](const RefusedRow& r, const TargetWrite&) {
      ADD_FAILURE() << "refused: " << r.message;
      return RefusalAction::Skip;
    });
    writer_->commit(Lsn(++lsn_), 1);
  }
  // "n->m" for every row of `table`, by row number.
  std::string links(std::string_view table, std::string_view column) {
    auto res = observer_->exec(
        fmt::format("SELECT string_agg(right(id::text, 4)::int || '->' || "
                    "coalesce(right({}::text, 4)::int::text, '-'), ' ' ORDER BY id) FROM {}",
                    column, table));
    return res.isNull(0, 0) ? "" : std::string(res.value(0, 0));
  }

  std::string db_;
  std::optional<PgConnection> conn_, observer_;
  CheckpointStore store_{"pgmorph", "cycle"};
  std::optional<TargetWriter> writer_;
  std::optional<TargetCatalog> catalog_;
  std::optional<BatchOrderer> orderer_;
  std::deque<TableMapping> sources_;
  std::deque<WritePlan> plans_;
  std::uint64_t lsn_ = 0x100;
};

}  // namespace pgmorph::cycletest
