// BatchOrderer: coalescing to the net effect per target row, parent-first / child-first
// order, and the segment barriers (truncate, re-insert of a deleted key).
#include "transform/BatchOrderer.h"

#include <gtest/gtest.h>

#include "transform/tests/BatchOrdererTestSupport.h"

namespace pgmorph::ordertest {
namespace {

using Strings = std::vector<std::string>;
using Sizes = std::vector<std::size_t>;

class BatchOrdererTest : public ::testing::Test {
 protected:
  const OrderedBatch& order() { return orderer_.order(w_.list); }

  Schema s_;
  BatchOrderer orderer_{*s_.graph};
  Writes w_;
};

TEST_F(BatchOrdererTest, UpsertsGoParentFirstAndDeletesChildFirst) {
  // Source order is child-first for the upserts and parent-first for the deletes.
  w_.upsert(*s_.payments, 30, {rowText(20), "9.50"})
      .upsert(*s_.orders, 20, {rowText(10), "draft", "n"})
      .upsert(*s_.offices, 10, {"Main"})
      .remove(*s_.offices, 11)
      .remove(*s_.orders, 21)
      .remove(*s_.payments, 31);
  const auto& b = order();
  EXPECT_EQ(render(b), (Strings{"upsert offices 10", "upsert orders 20", "upsert payments 30",
                                "delete payments 31", "delete orders 21", "delete offices 11"}));
  EXPECT_EQ(sources(b), (Sizes{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(segmentSizes(b), Sizes{6});
  EXPECT_TRUE(b.segments[0].deferred.empty());
}

TEST_F(BatchOrdererTest, RowsOfOneTableKeepSourceOrder) {
  w_.upsert(*s_.orders, 3, {rowText(10), "draft", "n"})
      .upsert(*s_.offices, 10, {"Main"})
      .upsert(*s_.orders, 1, {rowText(10), "draft", "n"})
      .upsert(*s_.orders, 2, {rowText(10), "draft", "n"})
      .remove(*s_.payments, 9)
      .remove(*s_.payments, 7)
      .remove(*s_.payments, 8);
  EXPECT_EQ(render(order()),
            (Strings{"upsert offices 10", "upsert orders 3", "upsert orders 1", "upsert orders 2",
                     "delete payments 9", "delete payments 7", "delete payments 8"}));
}

TEST_F(BatchOrdererTest, UpsertsOfOneTableGoGroupedByShapeSourceOrderInsideEachGroup) {
  // Updates that leave the TOASTed notes out ("-") between full rows: grouped, the full rows
  // make one run (one multi-row statement) and the others another.
  w_.upsert(*s_.orders, 1, {rowText(10), "draft", "n"})
      .upsert(*s_.orders, 2, {rowText(10), "shipped", "-"})
      .upsert(*s_.offices, 10, {"Main"})
      .upsert(*s_.orders, 3, {rowText(10), "draft", "n"})
      .upsert(*s_.orders, 4, {rowText(10), "draft", "-"})
      .upsert(*s_.orders, 5, {rowText(10), "draft", "n"})
      .upsert(*s_.orders, 2, {rowText(10), "cancelled", "-"});
  const auto& b = order();
  EXPECT_EQ(render(b, true), (Strings{"upsert offices 10 [name=Main]",
                                      "upsert orders 1 [office_id=#10, status=draft, notes=n]",
                                      "upsert orders 3 [office_id=#10, status=draft, notes=n]",
                                      "upsert orders 5 [office_id=#10, status=draft, notes=n]",
                                      "upsert orders 2 [office_id=#10, status=cancelled, notes=-]",
                                      "upsert orders 4 [office_id=#10, status=draft, notes=-]"}));
  EXPECT_EQ(sources(b), (Sizes{2, 0, 3, 5, 6, 4}));
}

TEST_F(BatchOrdererTest, RepointedChildrenGoBeforeTheDeleteOfTheirOldParent) {
  // The order of the source: children moved to order 21, then order 20 deleted. Table by
  // table (orders first) the delete would run while payments still point at 20.
  w_.upsert(*s_.orders, 21, {rowText(10), "draft", "n"})
      .upsert(*s_.payments, 30, {rowText(21), "1.00"})
      .upsert(*s_.payments, 31, {rowText(21), "2.00"})
      .remove(*s_.orders, 20);
  EXPECT_EQ(render(order()), (Strings{"upsert orders 21", "upsert payments 30",
                                      "upsert payments 31", "delete orders 20"}));
}

TEST_F(BatchOrdererTest, UpsertsOfOneRowMergeLaterValuesWinAbsentKeepsTheEarlierValue) {
  w_.upsert(*s_.orders, 20, {rowText(10), "draft", "long notes"})
      .upsert(*s_.offices, 10, {"Main"})
      .upsert(*s_.orders, 20, {rowText(10), "submitted", "-"})  // notes unchanged (TOAST)
      .upsert(*s_.orders, 20, {"~", "-", "-"});                 // office set to NULL
  const auto& b = order();
  EXPECT_EQ(render(b, true),
            (Strings{"upsert offices 10 [name=Main]",
                     "upsert orders 20 [office_id=~, status=submitted, notes=long notes]"}));
  EXPECT_EQ(b.folded, 2u);
  // The merged write stands for the last source write; it keeps that write's position.
  EXPECT_EQ(b.writes[1].source, 3u);
  EXPECT_EQ(b.writes[1].write->lsn, w_.list[3].lsn);
  EXPECT_EQ(b.writes[1].write->legacyKey(), "20");
  EXPECT_EQ(b.writes[1].write->values()[0].state, ValueState::Present);  // the id is kept
  // The input writes are left as they were.
  EXPECT_EQ(w_.list[0].text(w_.list[0].values()[2]), "draft");
}

TEST_F(BatchOrdererTest, UpsertThenDeleteKeepsTheUpsertForTheWritesThatReferenceTheRow) {
  // A new order with a payment and a completed jaw, then the order deleted, in one batch
  // (source deletes the payment first). The payment's upsert references the order: it runs
  // before the deletes and needs the order there.
  w_.upsert(*s_.orders, 20, {rowText(10), "draft", "n"})
      .upsert(*s_.jaws, 40, {"scan.stl"})
      .set(*s_.upperJaws, 40, {rowText(20), "upper"})
      .upsert(*s_.payments, 30, {rowText(20), "1.00"})
      .upsert(*s_.orders, 20, {rowText(10), "submitted", "n"})
      .remove(*s_.payments, 30)
      .remove(*s_.jaws, 40)
      .remove(*s_.orders, 20)
      .remove(*s_.orders, 20);
  const auto& b = order();
  EXPECT_EQ(render(b, true), (Strings{"upsert orders 20 [office_id=#10, status=submitted, notes=n]",
                                      "upsert jaws 40 [scan_file=scan.stl]",
                                      "upsert payments 30 [order_id=#20, amount=1.00]",
                                      "delete payments 30", "delete jaws 40", "delete orders 20"}));
  EXPECT_EQ(b.dropped, 1u);  // the jaw's set-columns
  EXPECT_EQ(b.folded, 2u);   // the second upsert of order 20 and its second delete
  EXPECT_EQ(sources(b), (Sizes{4, 1, 3, 5, 6, 8}));
}

TEST_F(BatchOrdererTest, DeleteThenReinsertOfOneKeySplitsTheBatchSoTheDeleteRunsFirst) {
  // Rule: not folded into one upsert. The delete must happen (ON DELETE CASCADE children,
  // columns the upsert does not write), so the re-insert starts a new segment.
  w_.upsert(*s_.offices, 10, {"Main"})
      .remove(*s_.payments, 30)
      .remove(*s_.orders, 20)
      .upsert(*s_.orders, 20, {rowText(10), "draft", "again"})
      .upsert(*s_.payments, 31, {rowText(20), "5.00"});
  const auto& b = order();
  EXPECT_EQ(render(b), (Strings{"upsert offices 10", "delete payments 30", "delete orders 20",
                                "upsert orders 20", "upsert payments 31"}));
  EXPECT_EQ(segmentSizes(b), (Sizes{3, 2}));
  EXPECT_EQ(b.folded + b.dropped, 0u);
}

TEST_F(BatchOrdererTest, SetColumnsAfterADeleteOfItsRowAlsoStartsANewSegment) {
  w_.remove(*s_.jaws, 40).set(*s_.upperJaws, 40, {rowText(20), "upper"});
  const auto& b = order();
  EXPECT_EQ(render(b),
            (Strings{"delete jaws 40", "set-columns jaws 40 [order_id=#20, jaw_type=upper]"}));
  EXPECT_EQ(segmentSizes(b), (Sizes{1, 1}));
}

TEST_F(BatchOrdererTest, TruncateIsABarrierThatRunsAlone) {
  w_.upsert(*s_.offices, 10, {"Main"})
      .upsert(*s_.orders, 20, {rowText(10), "draft", "n"})
      .truncate(*s_.orders)
      .upsert(*s_.orders, 20, {rowText(10), "again", "n"})
      .upsert(*s_.offices, 11, {"Second"});
  const auto& b = order();
  EXPECT_EQ(render(b), (Strings{"upsert offices 10", "upsert orders 20", "truncate orders",
                                "upsert offices 11", "upsert orders 20"}));
  EXPECT_EQ(segmentSizes(b), (Sizes{2, 1, 2}));
  // Nothing merged across the truncate.
  EXPECT_EQ(b.folded, 0u);
}

TEST_F(BatchOrdererTest, TwoTruncatesInARowAreTwoSegments) {
  w_.truncate(*s_.upperJaws).truncate(*s_.jaws);
  EXPECT_EQ(segmentSizes(order()), (Sizes{1, 1}));
}

TEST_F(BatchOrdererTest, PartialWritesFollowTheUpsertsOfTheirTableInSourceOrder) {
  // A new order with its two jaws, as the transformer writes it: jaws first, then the order
  // (releases, then set-columns completing the jaws).
  w_.upsert(*s_.jaws, 40, {"u.stl"})
      .upsert(*s_.jaws, 41, {"l.stl"})
      .upsert(*s_.orders, 20, {rowText(10), "draft", "n"})
      .release(*s_.upperJaws, 20, 40)
      .release(*s_.lowerJaws, 20, 41)
      .set(*s_.upperJaws, 40, {rowText(20), "upper"})
      .set(*s_.lowerJaws, 41, {rowText(20), "lower"})
      .upsert(*s_.jaws, 42, {"spare.stl"})
      .upsert(*s_.offices, 10, {"Main"});
  EXPECT_EQ(
      render(order()),
      (Strings{"upsert offices 10", "upsert orders 20", "upsert jaws 40", "upsert jaws 41",
               "upsert jaws 42", "release jaws #20 upper keep 40", "release jaws #20 lower keep 41",
               "set-columns jaws 40 [order_id=#20, jaw_type=upper]",
               "set-columns jaws 41 [order_id=#20, jaw_type=lower]"}));
}

TEST_F(BatchOrdererTest, SetColumnsOfOnePlanMergeWhenNoReleaseCameBetween) {
  w_.set(*s_.upperJaws, 40, {rowText(20), "upper"})
      .set(*s_.upperJaws, 40, {rowText(21), "-"})
      .set(*s_.lowerJaws, 40, {rowText(22), "lower"});  // another plan: not merged
  const auto& b = order();
  EXPECT_EQ(render(b), (Strings{"set-columns jaws 40 [order_id=#21, jaw_type=upper]",
                                "set-columns jaws 40 [order_id=#22, jaw_type=lower]"}));
  EXPECT_EQ(b.folded, 1u);
  EXPECT_EQ(sources(b), (Sizes{1, 2}));
}

TEST_F(BatchOrdererTest, AReleaseBetweenTwoSetColumnsOfARowKeepsThemApart) {
  // Order 20 is inserted with jaws 40 (upper) and 41 (lower), then swaps them, all in one
  // batch. Merging set-columns 40 across the releases would move the later values before a
  // release that clears them; the writes of the jaws keep their source order instead.
  w_.release(*s_.upperJaws, 20, 40)
      .release(*s_.lowerJaws, 20, 41)
      .set(*s_.upperJaws, 40, {rowText(20), "upper"})
      .set(*s_.lowerJaws, 41, {rowText(20), "lower"})
      .release(*s_.upperJaws, 20, 41)
      .release(*s_.lowerJaws, 20, 40)
      .set(*s_.upperJaws, 41, {rowText(20), "upper"})
      .set(*s_.lowerJaws, 40, {rowText(20), "lower"});
  const auto& b = order();
  EXPECT_EQ(b.folded, 0u);
  std::vector<std::string> expected;
  for (const auto& w : w_.list) expected.push_back(render(w));
  EXPECT_EQ(render(b), expected);
}

TEST_F(BatchOrdererTest, PlansSharingAColumnKeepTheirTableInSourceOrder) {
  // An upsert plan that writes jaw_type itself, on the table that the partial plans fill:
  // moving its upserts ahead of the partial writes would change which value wins.
  WritePlan& typed = s_.plans.emplace_back(*s_.jaws);
  typed.columns = {"id", "scan_file", "jaw_type"};
  w_.set(*s_.upperJaws, 40, {rowText(20), "upper"})
      .upsert(typed, 40, {"a.stl", "unknown"})
      .set(*s_.upperJaws, 40, {rowText(20), "upper"})
      .upsert(typed, 40, {"b.stl", "-"});
  const auto& b = order();
  EXPECT_EQ(render(b, true), (Strings{"set-columns jaws 40 [order_id=#20, jaw_type=upper]",
                                      "upsert jaws 40 [scan_file=a.stl, jaw_type=unknown]",
                                      "set-columns jaws 40 [order_id=#20, jaw_type=upper]",
                                      "upsert jaws 40 [scan_file=b.stl, jaw_type=-]"}));
  EXPECT_EQ(b.folded, 0u);
}

TEST_F(BatchOrdererTest, TablesTheGraphDoesNotKnowGoLastInOrderOfAppearance) {
  w_.upsert(*s_.unknown, 90, {"x"})
      .upsert(*s_.orders, 20, {rowText(10), "draft", "n"})
      .remove(*s_.unknown, 91)
      .remove(*s_.orders, 21);
  EXPECT_EQ(render(order()), (Strings{"upsert orders 20", "upsert audit 90", "delete audit 91",
                                      "delete orders 21"}));
}

TEST_F(BatchOrdererTest, EachCallIsItsOwnBatchNothingMergesAcrossChunks) {
  w_.upsert(*s_.orders, 20, {rowText(10), "draft", "n"});
  Writes second;
  second.upsert(*s_.orders, 20, {rowText(10), "submitted", "-"});
  EXPECT_EQ(render(orderer_.order(w_.list), true),
            Strings{"upsert orders 20 [office_id=#10, status=draft, notes=n]"});
  const auto& b = orderer_.order(second.list);
  EXPECT_EQ(render(b, true),
            Strings{"upsert orders 20 [office_id=#10, status=submitted, notes=-]"});
  EXPECT_EQ(b.folded, 0u);
  EXPECT_TRUE(orderer_.order({}).writes.empty());
  EXPECT_TRUE(orderer_.order({}).segments.empty());
}

TEST_F(BatchOrdererTest, AWriteWithoutAPlanIsRefused) {
  w_.list.emplace_back();
  EXPECT_THROW(order(), std::invalid_argument);
}

}  // namespace
}  // namespace pgmorph::ordertest
