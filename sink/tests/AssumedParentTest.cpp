// Assumed parents (ParkingApplier, "Assumed parents"): when nothing is parked, a batch whose
// parents the target's own foreign keys check is sent without looking them up; if the target
// refuses it, the batch is rolled back whole and decided again on facts, with exactly the
// outcome the lookups would have given (parked with the missing parent, NULLed per
// on_missing, a partial target's missing row parked). Where the target would not refuse — a
// deferred key, disabled triggers, session_replication_role = replica — nothing is assumed.
#include <gtest/gtest.h>

#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class AssumedParentTest : public ParkingTest {
 protected:
  void SetUp() override {
    ParkingTest::SetUp();
    txn({office("1"), user("1")});
    // A new write path: its cache of rows known to exist starts empty, as after a restart.
    start();
  }
  std::size_t lookups() const { return parking_->checker().lookups(); }
  std::uint64_t withdrawn() const { return writer_->orderedCounters().withdrawnPasses; }

  // An orphan notification (recipient 1001 missing) beside a good one, in one batch: it must
  // be parked waiting for its recipient, and the good one land.
  void expectOrphanParkedAndGoodRowLanded() {
    EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "100")));
    EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "101")))
        << "the orphan must not land: the target's key did not check it";
    auto rows = parked();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].kind, ParkKind::MissingParent);
    EXPECT_EQ(rows[0].legacyKey, "101");
    EXPECT_EQ(rows[0].missingTable, "public.profiles");
    EXPECT_EQ(rows[0].missingId, idOf("dispatch_user", "1001"));
  }
};

TEST_F(AssumedParentTest, ParentsTheTargetChecksAreNotLookedUp) {
  std::size_t before = lookups();
  txn({notification("100", "1"), notification("101", "1")});
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "100")));
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "101")));
  EXPECT_EQ(lookups() - before, 0u) << "the recipient was assumed, the foreign key checked it";
  EXPECT_EQ(withdrawn(), 0u);
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(AssumedParentTest, ARefusedTentativeBatchIsDecidedAgainOnFacts) {
  std::size_t before = lookups();
  txn({notification("100", "1"), notification("101", "1001")});
  EXPECT_EQ(withdrawn(), 1u);
  EXPECT_GE(lookups() - before, 1u) << "decided again with the recipients looked up";
  expectOrphanParkedAndGoodRowLanded();
  EXPECT_EQ(counts_["dispatch_notification"].parked, 1u);
  EXPECT_EQ(counts_["dispatch_notification"].applied, 1u);
  // The recipient arrives: the parked message lands.
  txn({user("1001")});
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "101")));
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(AssumedParentTest, OnMissingNullStillWritesNullAndKeepsTheReference) {
  // orders.doctor_id is on_missing: null; doctor 9 does not exist.
  txn({patient("4", std::nullopt)});
  start();
  txn({instruction("9", "4", "9", std::nullopt, std::nullopt)});
  EXPECT_EQ(withdrawn(), 1u);
  EXPECT_TRUE(exists("orders", idOf("dispatch_instruction", "9")));
  EXPECT_EQ(column("orders", idOf("dispatch_instruction", "9"), "doctor_id"), "<null>");
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::NullReference);
  EXPECT_EQ(rows[0].missingId, idOf("dispatch_doctor", "9"));
}

TEST_F(AssumedParentTest, AMissingRowOfAPartialTargetIsParkedAsBefore) {
  // The order names upper jaw 77, which the target does not have: its completion waits.
  txn({patient("4", std::nullopt), jaw("2")});
  start();
  txn({instruction("9", "4", std::nullopt, "77", "2")});
  EXPECT_EQ(withdrawn(), 1u);
  EXPECT_TRUE(exists("orders", idOf("dispatch_instruction", "9")));
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "2"), "order_id"),
            idOf("dispatch_instruction", "9").str());
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::MissingParent);
  EXPECT_EQ(rows[0].missingTable, "public.jaws");
  EXPECT_EQ(rows[0].missingId, idOf("dispatch_jaw", "77"));
}

TEST_F(AssumedParentTest, NothingIsAssumedWhereTheKeyIsDeferred) {
  // Checked at COMMIT only: an assumed orphan would fail the whole transaction there.
  observer_->exec(
      "ALTER TABLE system_messages ALTER CONSTRAINT system_messages_recipient_id_fkey "
      "DEFERRABLE INITIALLY DEFERRED");
  start();
  txn({notification("100", "1"), notification("101", "1001")});
  EXPECT_EQ(withdrawn(), 0u);
  expectOrphanParkedAndGoodRowLanded();
}

TEST_F(AssumedParentTest, NothingIsAssumedWhereTheKeysTriggersAreDisabled) {
  observer_->exec("ALTER TABLE system_messages DISABLE TRIGGER ALL");
  start();
  txn({notification("100", "1"), notification("101", "1001")});
  EXPECT_EQ(withdrawn(), 0u);
  expectOrphanParkedAndGoodRowLanded();
}

TEST_F(AssumedParentTest, NothingIsAssumedInReplicaMode) {
  conn_->exec("SET session_replication_role = replica");
  start();
  txn({notification("100", "1"), notification("101", "1001")});
  EXPECT_EQ(withdrawn(), 0u);
  expectOrphanParkedAndGoodRowLanded();
}

}  // namespace
}  // namespace pgmorph::parkingtest
