// Self-references and cycles on a real target: rows that reference each other in a circle
// are written with the reference NULL and fixed afterwards (write-then-fix) when the
// constraint is not deferrable, or written with the constraint deferred for their segment
// when it is; a deferred check that fails at the segment's end stops the batch with the
// constraint's name. Each case is first applied in source order, which the target refuses.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <deque>
#include <optional>

#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "tests/support/SharedClusters.h"
#include "transform/BatchOrderer.h"

namespace pgmorph {
namespace {

Uuid rowId(int n) {
  return Uuid::parse(fmt::format("00000000-0000-4000-8000-{:012d}", n));
}

class OrderingCycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("cycle");
    test::sharedTarget().psql(
        db_,
        "CREATE TABLE staff (id uuid PRIMARY KEY, manager_id uuid REFERENCES staff (id),"
        "  name text NOT NULL);"
        "CREATE TABLE staff_d (id uuid PRIMARY KEY,"
        "  manager_id uuid CONSTRAINT staff_d_manager REFERENCES staff_d (id) DEFERRABLE,"
        "  name text NOT NULL);"
        "CREATE TABLE a_t (id uuid PRIMARY KEY, b_id uuid, name text);"
        "CREATE TABLE b_t (id uuid PRIMARY KEY,"
        "  a_id uuid CONSTRAINT b_to_a REFERENCES a_t (id) DEFERRABLE, name text);"
        "ALTER TABLE a_t ADD CONSTRAINT a_to_b FOREIGN KEY (b_id) REFERENCES b_t (id) DEFERRABLE;");
    conn_.emplace(test::sharedTarget().conninfo(db_), "target");
    observer_.emplace(test::sharedTarget().conninfo(db_), "observer");
    store_.ensureSchema(*conn_);
    writer_.emplace(*conn_, store_, "slot");
    catalog_.emplace(TargetCatalog::read(
        *conn_, {"public.staff", "public.staff_d", "public.a_t", "public.b_t"}));
    orderer_.emplace(catalog_->graph());
    staff_ = &plan("staff", {"id", "manager_id", "name"});
    staffD_ = &plan("staff_d", {"id", "manager_id", "name"});
    a_ = &plan("a_t", {"id", "b_id", "name"});
    b_ = &plan("b_t", {"id", "a_id", "name"});
  }
  void TearDown() override {
    orderer_.reset();
    writer_.reset();
    conn_.reset();
    observer_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  WritePlan& plan(std::string table, std::vector<std::string> columns) {
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
    p.columns = std::move(columns);
    p.refTables.assign(p.columns.size(), "");
    return p;
  }
  // Upsert of row n referencing row `ref` (0: NULL).
  void upsert(std::vector<TargetWrite>& out, const WritePlan& p, int n, int ref) {
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

  std::optional<RefusedRow> applyInSourceOrder(const std::vector<TargetWrite>& writes) {
    writer_->begin();
    try {
      writer_->apply(writes);
    } catch (const RefusedRowError& e) {
      return e.row();
    }
    writer_->rollback();
    return std::nullopt;
  }
  void applyOrdered(const std::vector<TargetWrite>& writes) {
    writer_->begin();
    writer_->applyOrdered(orderer_->order(writes));
    writer_->commit(Lsn(++lsn_), 1);
  }
  // "n->m" for every row of `table`, by row number, sorted.
  std::string links(std::string_view table, std::string_view column) {
    auto res =
        observer_->exec(fmt::format("SELECT string_agg(right(id::text, 4)::int || '->' || "
                                    "coalesce(right({}::text, 4)::int::text,"
                                    " '-'), ' ' ORDER BY id) FROM {}",
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
  const WritePlan *staff_ = nullptr, *staffD_ = nullptr, *a_ = nullptr, *b_ = nullptr;
  std::uint64_t lsn_ = 0x100;
};

TEST_F(OrderingCycleTest, RowsManagingEachOtherAreWrittenWithNullThenFixed) {
  // 3 reports to 1, 1 to 2 and 2 to 1: no order of the three inserts satisfies the FK.
  std::vector<TargetWrite> w;
  upsert(w, *staff_, 3, 1);
  upsert(w, *staff_, 1, 2);
  upsert(w, *staff_, 2, 1);
  upsert(w, *staff_, 4, 0);
  auto refused = applyInSourceOrder(w);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->sqlstate, "23503");
  EXPECT_EQ(refused->legacyKey, "3");

  const OrderedBatch& b = orderer_->order(w);
  EXPECT_EQ(b.fixes, 3u);
  applyOrdered(w);
  EXPECT_EQ(links("staff", "manager_id"), "1->2 2->1 3->1 4->-");
}

TEST_F(OrderingCycleTest, ADeferrableSelfReferenceIsDeferredForTheSegment) {
  std::vector<TargetWrite> w;
  upsert(w, *staffD_, 1, 2);
  upsert(w, *staffD_, 2, 1);
  ASSERT_TRUE(applyInSourceOrder(w));
  const OrderedBatch& b = orderer_->order(w);
  EXPECT_EQ(b.fixes, 0u);
  ASSERT_EQ(b.segments.size(), 1u);
  ASSERT_EQ(b.segments[0].deferred.size(), 1u);
  EXPECT_EQ(b.segments[0].deferred[0]->name, "staff_d_manager");
  applyOrdered(w);
  EXPECT_EQ(links("staff_d", "manager_id"), "1->2 2->1");
}

TEST_F(OrderingCycleTest, ManyRowsListedChildFirstGoParentFirstInOneStatement) {
  // A chain of 40: row n reports to row n + 1, listed from the bottom up.
  std::vector<TargetWrite> w;
  for (int n = 1; n <= 40; ++n) upsert(w, *staff_, n, n < 40 ? n + 1 : 0);
  ASSERT_TRUE(applyInSourceOrder(w));
  auto before = writer_->orderedCounters();
  applyOrdered(w);
  EXPECT_EQ(writer_->orderedCounters().multiRowStatements, before.multiRowStatements + 1);
  EXPECT_EQ(observer_->exec("SELECT count(*) FROM staff WHERE manager_id IS NOT NULL").value(0, 0),
            std::string_view("39"));
}

TEST_F(OrderingCycleTest, TwoTablesReferencingEachOtherAreWrittenWithTheirConstraintsDeferred) {
  std::vector<TargetWrite> w;
  upsert(w, *a_, 1, 1);  // a 1 -> b 1
  upsert(w, *b_, 1, 1);  // b 1 -> a 1
  auto refused = applyInSourceOrder(w);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->constraint, "a_to_b");
  applyOrdered(w);
  EXPECT_EQ(links("a_t", "b_id"), "1->1");
  EXPECT_EQ(links("b_t", "a_id"), "1->1");
}

TEST_F(OrderingCycleTest, ADeferredCheckThatFailsAtTheEndOfItsSegmentStopsWithTheConstraint) {
  std::vector<TargetWrite> w;
  upsert(w, *a_, 2, 99);  // b 99 exists nowhere
  upsert(w, *b_, 2, 2);
  writer_->begin();
  try {
    writer_->applyOrdered(orderer_->order(w));
    FAIL() << "a reference to a missing row was accepted";
  } catch (const RefusedRowError&) {
    FAIL() << "a deferred check cannot be pinned on one row";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "23503");
    EXPECT_NE(std::string(e.what()).find("a_to_b"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("SET CONSTRAINTS"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(writer_->inTransaction());
  EXPECT_EQ(links("a_t", "b_id"), "");
}

}  // namespace
}  // namespace pgmorph
