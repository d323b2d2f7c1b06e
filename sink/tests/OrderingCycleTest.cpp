// Self-references and cycles on a real target: rows that reference each other in a circle
// are written with the reference NULL and fixed afterwards (write-then-fix) when the
// constraint is not deferrable, or written with the constraint deferred for their segment
// when it is; a deferred check that fails at the segment's end stops the batch with the
// constraint's name. Each case is first applied in source order, which the target refuses.
#include "sink/tests/CycleFixture.h"

namespace pgmorph::cycletest {
namespace {

class OrderingCycleTest : public CycleFixture {
 protected:
  void SetUp() override {
    open(
        "CREATE TABLE staff (id uuid PRIMARY KEY, manager_id uuid REFERENCES staff (id),"
        "  name text NOT NULL);"
        "CREATE TABLE staff_d (id uuid PRIMARY KEY,"
        "  manager_id uuid CONSTRAINT staff_d_manager REFERENCES staff_d (id) DEFERRABLE,"
        "  name text NOT NULL);"
        "CREATE TABLE a_t (id uuid PRIMARY KEY, b_id uuid, name text);"
        "CREATE TABLE b_t (id uuid PRIMARY KEY,"
        "  a_id uuid CONSTRAINT b_to_a REFERENCES a_t (id) DEFERRABLE, name text);"
        "ALTER TABLE a_t ADD CONSTRAINT a_to_b FOREIGN KEY (b_id) REFERENCES b_t (id) DEFERRABLE;",
        {"staff", "staff_d", "a_t", "b_t"});
    staff_ = &plan("staff", "manager_id");
    staffD_ = &plan("staff_d", "manager_id");
    a_ = &plan("a_t", "b_id");
    b_ = &plan("b_t", "a_id");
  }
  const WritePlan *staff_ = nullptr, *staffD_ = nullptr, *a_ = nullptr, *b_ = nullptr;
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
}  // namespace pgmorph::cycletest
