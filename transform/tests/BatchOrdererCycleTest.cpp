// BatchOrderer: self-references (parent rows first inside the table, write-then-fix or a
// deferred constraint for rows referencing each other in a circle) and cycles between tables.
#include "transform/BatchOrderer.h"

#include <gtest/gtest.h>

#include "transform/tests/BatchOrdererTestSupport.h"

namespace pgmorph::ordertest {
namespace {

using Strings = std::vector<std::string>;
using Sizes = std::vector<std::size_t>;

std::vector<std::string> deferredNames(const OrderedSegment& s) {
  std::vector<std::string> out;
  for (const auto* fk : s.deferred) out.push_back(fk->name);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(BatchOrdererCycle, SelfReferencingRowsGoAfterTheRowTheyReference) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  Writes w;
  // 3 reports to 2, 2 to 1, 5 to a manager outside the batch; source order is bottom-up.
  w.upsert(*s.employees, 3, {rowText(2), "Carol"})
      .upsert(*s.employees, 5, {rowText(99), "Eve"})
      .upsert(*s.employees, 2, {rowText(1), "Bob"})
      .upsert(*s.employees, 4, {"~", "Dan"})
      .upsert(*s.employees, 1, {"~", "Ann"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"upsert employees 5", "upsert employees 4", "upsert employees 1",
                                "upsert employees 2", "upsert employees 3"}));
  EXPECT_EQ(b.fixes, 0u);
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST(BatchOrdererCycle, RowsReferencingEachOtherAreWrittenWithNullThenFixed) {
  Schema s(/*selfRefDeferrable=*/false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  // 1 and 2 manage each other; 3 reports to 1 and hangs below the circle.
  w.upsert(*s.employees, 3, {rowText(1), "Carol"})
      .upsert(*s.employees, 1, {rowText(2), "Ann"})
      .upsert(*s.employees, 2, {rowText(1), "Bob"})
      .upsert(*s.employees, 6, {"~", "Fay"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b, true), (Strings{"upsert employees 6 [manager_id=~, name=Fay]",
                                      "upsert employees 3 [manager_id=~, name=Carol]",
                                      "upsert employees 1 [manager_id=~, name=Ann]",
                                      "upsert employees 2 [manager_id=~, name=Bob]",
                                      "set-columns employees 3 [id=-, manager_id=#1, name=-]",
                                      "set-columns employees 1 [id=-, manager_id=#2, name=-]",
                                      "set-columns employees 2 [id=-, manager_id=#1, name=-]"}));
  EXPECT_EQ(b.fixes, 3u);
  EXPECT_TRUE(b.segments[0].deferred.empty());
  // A fix stands for the same source write as its upsert, and its id slot is not written.
  EXPECT_EQ(sources(b), (Sizes{3, 0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(b.writes[4].write->values()[0].state, ValueState::Absent);
  EXPECT_EQ(b.writes[4].write->row, rowId(3));
}

TEST(BatchOrdererCycle, ADeferrableSelfReferenceIsDeferredInsteadOfFixed) {
  Schema s(/*selfRefDeferrable=*/true);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.upsert(*s.employees, 1, {rowText(2), "Ann"}).upsert(*s.employees, 2, {rowText(1), "Bob"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b, true), (Strings{"upsert employees 1 [manager_id=#2, name=Ann]",
                                      "upsert employees 2 [manager_id=#1, name=Bob]"}));
  EXPECT_EQ(b.fixes, 0u);
  ASSERT_EQ(b.segments.size(), 1u);
  EXPECT_EQ(deferredNames(b.segments[0]), Strings{"employees_manager_fkey"});
}

TEST(BatchOrdererCycle, ARowReferencingItselfNeedsNothing) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.upsert(*s.employees, 1, {rowText(1), "Boss"}).upsert(*s.employees, 2, {rowText(1), "Bob"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"upsert employees 1", "upsert employees 2"}));
  EXPECT_EQ(b.fixes, 0u);
}

TEST(BatchOrdererCycle, MergedValuesDecideTheOrderInsideTheTable) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  Writes w;
  // 1 first has no manager, then gets 2 as its manager in a later transaction of the batch.
  w.upsert(*s.employees, 1, {"~", "Ann"})
      .upsert(*s.employees, 2, {"~", "Bob"})
      .upsert(*s.employees, 1, {rowText(2), "-"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b, true), (Strings{"upsert employees 2 [manager_id=~, name=Bob]",
                                      "upsert employees 1 [manager_id=#2, name=Ann]"}));
}

TEST(BatchOrdererCycle, TablesInACycleGoParentsFirstAndDeferTheirConstraints) {
  Schema s(false, /*cycleDeferrable=*/true);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.upsert(*s.bT, 2, {"~"})
      .upsert(*s.aT, 1, {rowText(2)})
      .upsert(*s.bT, 3, {rowText(1)})
      .remove(*s.aT, 7)
      .remove(*s.bT, 8);
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"upsert b_t 2", "upsert a_t 1", "upsert b_t 3", "delete a_t 7",
                                "delete b_t 8"}));
  ASSERT_EQ(b.segments.size(), 1u);
  EXPECT_EQ(deferredNames(b.segments[0]), (Strings{"a_b_fkey", "b_a_fkey"}));
}

TEST(BatchOrdererCycle, ACycleIsNotDeferredWhenOnlyOneOfItsTablesIsWritten) {
  Schema s(false, true);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.upsert(*s.aT, 1, {rowText(2)}).upsert(*s.aT, 4, {rowText(2)});
  const auto& b = orderer.order(w.list);
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST(BatchOrdererCycle, ANonDeferrableCycleGoesParentsFirstWithoutDeferring) {
  Schema s(false, /*cycleDeferrable=*/false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.upsert(*s.aT, 1, {"~"}).upsert(*s.bT, 2, {rowText(1)}).upsert(*s.aT, 4, {rowText(2)});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"upsert a_t 1", "upsert b_t 2", "upsert a_t 4"}));
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST(BatchOrdererCycle, DerivedWritesStayValidUntilTheNextCall) {
  Schema s;
  BatchOrderer orderer(*s.graph);
  Writes w;
  for (int i = 0; i < 200; ++i) w.upsert(*s.orders, 1000 + i, {rowText(10), "draft", "n"});
  for (int i = 0; i < 200; ++i) w.upsert(*s.orders, 1000 + i, {"-", "shipped", "-"});
  const auto& b = orderer.order(w.list);
  ASSERT_EQ(b.writes.size(), 200u);
  EXPECT_EQ(b.folded, 200u);
  // Hundreds of merged writes: none was moved when the pool grew.
  for (std::size_t i = 0; i < b.writes.size(); ++i) {
    const TargetWrite& m = *b.writes[i].write;
    EXPECT_EQ(m.row, rowId(1000 + static_cast<int>(i)));
    EXPECT_EQ(m.text(m.values()[2]), "shipped");
    EXPECT_EQ(m.text(m.values()[1]), rowText(10));
  }
}

// --- deleting rows that reference each other (see BatchOrderer.h) ---------------------------

bool together(const OrderedBatch& b, std::size_t i) {
  return b.writes[i].together;
}

TEST(BatchOrdererCycle, DeletesOfASelfReferencingTableAreUnlinkedFirst) {
  Schema s(/*selfRefDeferrable=*/false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.remove(*s.employees, 1).remove(*s.employees, 2);
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b, true), (Strings{"set-columns employees 1 [id=-, manager_id=~, name=-]",
                                      "set-columns employees 2 [id=-, manager_id=~, name=-]",
                                      "delete employees 1", "delete employees 2"}));
  EXPECT_EQ(b.unlinks, 2u);
  // A row that is not on the target is no error for an unlink; it stands for its delete.
  EXPECT_TRUE(b.writes[0].write->rowOptional);
  EXPECT_EQ(sources(b), (Sizes{0, 1, 0, 1}));
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST(BatchOrdererCycle, OneDeleteAloneIsNotUnlinked) {
  Schema s(false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.remove(*s.employees, 1).upsert(*s.employees, 2, {"~", "Bob"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"upsert employees 2", "delete employees 1"}));
  EXPECT_EQ(b.unlinks, 0u);
}

TEST(BatchOrdererCycle, DeletesUnderADeferrableNoActionKeyAreDeferredNotUnlinked) {
  Schema s(/*selfRefDeferrable=*/true);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.remove(*s.employees, 1).remove(*s.employees, 2);
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"delete employees 1", "delete employees 2"}));
  EXPECT_EQ(b.unlinks, 0u);
  EXPECT_EQ(deferredNames(b.segments[0]), Strings{"employees_manager_fkey"});
}

TEST(BatchOrdererCycle, RestrictIsUnlinkedEvenWhenDeclaredDeferrable) {
  Schema s(/*selfRefDeferrable=*/true);
  s.key("employees_manager_fkey").onDelete = FkAction::Restrict;
  s.rebuild();
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.remove(*s.employees, 1).remove(*s.employees, 2);
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(b.unlinks, 2u);
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST(BatchOrdererCycle, CascadeSetNullAndSetDefaultNeedNothing) {
  for (FkAction action : {FkAction::Cascade, FkAction::SetNull, FkAction::SetDefault}) {
    Schema s(false);
    s.key("employees_manager_fkey").onDelete = action;
    s.rebuild();
    BatchOrderer orderer(*s.graph);
    Writes w;
    w.remove(*s.employees, 1).remove(*s.employees, 2);
    const auto& b = orderer.order(w.list);
    EXPECT_EQ(render(b), (Strings{"delete employees 1", "delete employees 2"}));
    EXPECT_EQ(b.unlinks, 0u);
    EXPECT_TRUE(b.segments[0].deferred.empty());
  }
}

TEST(BatchOrdererCycle, ANotNullSelfReferenceDeletesInOneStatement) {
  Schema s(false);
  s.key("employees_manager_fkey").nullable = false;
  s.rebuild();
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.remove(*s.employees, 1).remove(*s.employees, 2).remove(*s.orders, 9);
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"delete orders 9", "delete employees 1", "delete employees 2"}));
  EXPECT_EQ(b.unlinks, 0u);
  EXPECT_FALSE(together(b, 0));
  EXPECT_TRUE(together(b, 1));
  EXPECT_TRUE(together(b, 2));
}

TEST(BatchOrdererCycle, DeletesAcrossANonDeferrableCycleAreUnlinkedFirst) {
  Schema s(false, /*cycleDeferrable=*/false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.remove(*s.aT, 1).remove(*s.bT, 1);
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b, true),
            (Strings{"set-columns a_t 1 [id=-, b_id=~]", "set-columns b_t 1 [id=-, a_id=~]",
                     "delete a_t 1", "delete b_t 1"}));
  EXPECT_EQ(b.unlinks, 2u);
}

TEST(BatchOrdererCycle, ANewPairAcrossANonDeferrableCycleIsWrittenWithNullThenFixed) {
  Schema s(false, /*cycleDeferrable=*/false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  w.upsert(*s.aT, 1, {rowText(1)}).upsert(*s.bT, 1, {rowText(1)}).upsert(*s.aT, 2, {rowText(1)});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b, true),
            (Strings{"upsert a_t 1 [b_id=~]", "upsert b_t 1 [a_id=~]", "upsert a_t 2 [b_id=~]",
                     "set-columns a_t 1 [id=-, b_id=#1]", "set-columns b_t 1 [id=-, a_id=#1]",
                     "set-columns a_t 2 [id=-, b_id=#1]"}));
  EXPECT_EQ(b.fixes, 3u);
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST(BatchOrdererCycle, ACycleAcrossTablesGoesParentsFirstAcrossTables) {
  Schema s(false, /*cycleDeferrable=*/false);
  BatchOrderer orderer(*s.graph);
  Writes w;
  // b 2 names a 1, which comes later in source order; a 1 names nobody.
  w.upsert(*s.bT, 2, {rowText(1)}).upsert(*s.aT, 1, {"~"});
  const auto& b = orderer.order(w.list);
  EXPECT_EQ(render(b), (Strings{"upsert a_t 1", "upsert b_t 2"}));
  EXPECT_EQ(b.fixes, 0u);
}

}  // namespace
}  // namespace pgmorph::ordertest
