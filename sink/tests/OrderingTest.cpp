// The four ordering cases of issue 4 against a real target (target.sql in a fresh
// database), each written by the real Transformer from source changes. Each case is first
// applied in a naive order, which the target refuses (or turns into wrong rows), then through
// BatchOrderer and TargetWriter::applyOrdered, which lands the rows the source has.
#include <gtest/gtest.h>

#include "sink/tests/OrderingTestSupport.h"

namespace pgmorph::ordertest {
namespace {

class OrderingCases : public OrderingTest {
 protected:
  void SetUp() override {
    OrderingTest::SetUp();
    // Office 1, user 1, patient 1, jaws 1..6, orders 1 (jaws 1, 2) and 2 (jaws 3, 4),
    // payments 1 and 2 of order 1, notifications 1 and 2 to user 1.
    std::vector<Change> seed = {office("1"), user(ChangeKind::Insert, "1", "ann@example.com"),
                                patient("1")};
    for (int j = 1; j <= 6; ++j) seed.push_back(jaw(std::to_string(j)));
    seed.push_back(instruction(ChangeKind::Insert, "1", "1", "2"));
    seed.push_back(instruction(ChangeKind::Insert, "2", "3", "4"));
    seed.push_back(payment(ChangeKind::Insert, "1", "1"));
    seed.push_back(payment(ChangeKind::Insert, "2", "1"));
    seed.push_back(notification(ChangeKind::Insert, "1", "1"));
    seed.push_back(notification(ChangeKind::Insert, "2", "1"));
    WriteBatch batch;
    for (const Change& c : seed)
      ASSERT_EQ(tf_.transform(c, batch).status, TransformOutcome::Status::Written);
    applyOrdered({batch.writes().begin(), batch.writes().end()});
    ASSERT_EQ(count("orders"), 2);
    ASSERT_EQ(jawState(*observer_, "1"), "1 upper");
  }

  std::string paymentOrder(std::string_view key) {
    return value(
        "SELECT o.legacy_instruction_id FROM payments p JOIN orders o ON o.id = "
        "p.order_id WHERE p.legacy_payment_id = $1::int",
        {key});
  }
};

TEST_F(OrderingCases, RepointingChildrenThenDeletingTheirOldParent) {
  // The source moves order 1's payments to order 2, then deletes order 1.
  auto writes =
      writesOf({payment(ChangeKind::Update, "1", "2"), payment(ChangeKind::Update, "2", "2"),
                removed("dispatch_instruction", "1")});

  // Table by table, parents first: the orders' delete runs while payments still point at it.
  auto refused = applyNaive(writes, Naive::Table);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->sqlstate, "23503");
  EXPECT_EQ(refused->op, WriteOp::Delete);
  EXPECT_EQ(refused->targetTable, "public.orders");
  EXPECT_EQ(refused->legacyKey, "1");

  applyOrdered(writes);
  EXPECT_EQ(value("SELECT count(*) FROM orders WHERE legacy_instruction_id = 1"), "0");
  EXPECT_EQ(paymentOrder("1"), "2");
  EXPECT_EQ(paymentOrder("2"), "2");
  EXPECT_EQ(jawState(*observer_, "1"), "- -");  // the deleted order released its jaws
  EXPECT_EQ(jawState(*observer_, "3"), "2 upper");
  EXPECT_EQ(checkpoint()->lsn, Lsn(lsn_));
}

TEST_F(OrderingCases, DeleteAndReinsertOfTheSameKey) {
  // The source deletes order 1 (its payments first), creates it again under the same id with
  // other values, and pays it.
  auto writes = writesOf({removed("dispatch_payment", "1"), removed("dispatch_payment", "2"),
                          removed("dispatch_instruction", "1"),
                          instruction(ChangeKind::Insert, "1", "1", "2", "1", "re-created"),
                          payment(ChangeKind::Insert, "3", "1")});

  // Upserts parent-first, then deletes child-first, each row on its own: the re-insert lands
  // first and the delete of the old row then runs into the new payment.
  auto refused = applyNaive(writes, Naive::Phases);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->sqlstate, "23503");
  EXPECT_EQ(refused->op, WriteOp::Delete);
  EXPECT_EQ(refused->targetTable, "public.orders");
  // Table by table, the order's delete comes before its payments' deletes.
  refused = applyNaive(writes, Naive::Table);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->targetTable, "public.orders");

  applyOrdered(writes);
  EXPECT_EQ(value("SELECT status || ' ' || notes FROM orders WHERE legacy_instruction_id = 1"),
            "submitted re-created");
  EXPECT_EQ(value("SELECT string_agg(legacy_payment_id::text, ',') FROM payments"), "3");
  EXPECT_EQ(paymentOrder("3"), "1");
  EXPECT_EQ(jawState(*observer_, "1"), "1 upper");
  EXPECT_EQ(jawState(*observer_, "2"), "1 lower");
}

TEST_F(OrderingCases, APrimaryKeyChangeWithChildrenFollowingIt) {
  // User 1 becomes user 7 (the legacy notification table has no FK), then its notifications
  // follow it. The target sees: delete profile 1, upsert profile 7, upsert the messages.
  auto writes = writesOf({user(ChangeKind::Update, "7", "ann@example.com", "1"),
                          notification(ChangeKind::Update, "1", "7"),
                          notification(ChangeKind::Update, "2", "7")});
  ASSERT_EQ(writes[0].op, WriteOp::Delete);

  // In source order the old profile is deleted while its messages still point at it.
  auto refused = applyNaive(writes, Naive::Source);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->sqlstate, "23503");
  EXPECT_EQ(refused->op, WriteOp::Delete);
  EXPECT_EQ(refused->targetTable, "public.profiles");
  EXPECT_TRUE(applyNaive(writes, Naive::Table).has_value());

  applyOrdered(writes);
  EXPECT_EQ(value("SELECT string_agg(legacy_user_id::text, ',') FROM profiles"), "7");
  EXPECT_EQ(value("SELECT count(*) FROM system_messages m JOIN profiles p ON p.id = "
                  "m.recipient_id WHERE p.legacy_user_id = 7"),
            "2");
}

TEST_F(OrderingCases, TwoPartialTargetsSwapWhichRowTheyName) {
  // Order 5 is created with jaws 5 (upper) and 6 (lower), then the lab swaps them, in one
  // batch. Per target row the last write wins: jaw 5 ends lower, jaw 6 upper.
  auto writes = writesOf({instruction(ChangeKind::Insert, "5", "5", "6"),
                          instruction(ChangeKind::Update, "5", "6", "5")});

  // One group per (table, plan, op), as a batcher writing one statement per plan and op
  // would: the lower target's set-columns come last and both jaws end lower. The target has
  // no constraint against it: these are wrong rows, not a refusal.
  auto refused = applyNaive(writes, Naive::PlanGroups, [&] {
    EXPECT_EQ(jawState(*conn_, "5"), "5 lower");
    EXPECT_EQ(jawState(*conn_, "6"), "5 lower");
  });
  EXPECT_FALSE(refused.has_value());

  applyOrdered(writes);
  EXPECT_EQ(jawState(*observer_, "5"), "5 lower");
  EXPECT_EQ(jawState(*observer_, "6"), "5 upper");
  EXPECT_EQ(jawState(*observer_, "1"), "1 upper");  // another order's jaws are left alone
}

TEST_F(OrderingCases, ARowCreatedAndDeletedInOneBatchStillCarriesTheWritesThatNameIt) {
  // A new order naming jaws 5 and 6, paid, then deleted (its payment first), in one batch:
  // between its insert and its delete, the jaws and the payment reference it. Folding the
  // order's insert into its delete would make them refuse.
  auto writes = writesOf({instruction(ChangeKind::Insert, "9", "5", "6"),
                          payment(ChangeKind::Insert, "9", "9"), removed("dispatch_payment", "9"),
                          removed("dispatch_instruction", "9")});
  applyOrdered(writes);
  EXPECT_EQ(value("SELECT count(*) FROM orders WHERE legacy_instruction_id = 9"), "0");
  EXPECT_EQ(value("SELECT count(*) FROM payments WHERE legacy_payment_id = 9"), "0");
  EXPECT_EQ(jawState(*observer_, "5"), "- -");
  EXPECT_EQ(jawState(*observer_, "6"), "- -");
}

}  // namespace
}  // namespace pgmorph::ordertest
