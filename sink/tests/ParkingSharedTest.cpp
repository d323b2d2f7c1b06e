// Parallel target sessions share what they know about the target (ParkingShared): two
// ParkingAppliers, each over its own connection, TargetWriter and BatchOrderer on the same
// target database, driven one committed source transaction at a time. A row parked by one
// session makes the other look for parked rows, and a parent deleted by one session is no
// longer trusted as present by the other, whose gate asks the target and parks the child.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "sink/ParkingShared.h"
#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class ParkingSharedTest : public ParkingTest {
 protected:
  // A second target session of the same pipeline (the fixture's is the first).
  struct Session {
    Session(const std::string& conninfo, ParkingSharedTest& t)
        : conn(conninfo, "target-b"),
          writer(conn, t.checkpoints_, "slot"),
          orderer(t.catalog_->graph()),
          parking(conn, t.transformer_->plans(), writer, *t.catalog_, orderer, t.store_, t.counts_,
                  t.shared_) {}
    PgConnection conn;
    TargetWriter writer;
    BatchOrderer orderer;
    ParkingApplier parking;
  };

  void SetUp() override {
    ParkingTest::SetUp();
    // Both sessions over one ParkingShared, made before anything is parked (so that what B
    // knows of parked rows cannot come from reading the parked table when it starts).
    shared_ = std::make_shared<ParkingShared>(*catalog_, transformer_->plans());
    parking_ = std::make_unique<ParkingApplier>(*conn_, transformer_->plans(), *writer_, *catalog_,
                                                *orderer_, store_, counts_, shared_);
    b_ = std::make_unique<Session>(test::sharedTarget().conninfo(db_), *this);
    txn({office("1")});
  }
  void TearDown() override {
    b_.reset();
    ParkingTest::TearDown();
  }

  // One source transaction applied and committed by session B (plain changes only: no
  // ChangeParker, whose connection is A's).
  void txnB(const std::vector<Change>& changes) {
    WriteBatch batch;
    b_->writer.begin();
    try {
      for (const Change& c : changes) transformer_->transformWithPolicy(c, batch);
      b_->parking.apply(batch.writes());
      b_->writer.commit(Lsn(++lsn_), 1);
    } catch (...) {
      b_->writer.rollback();
      b_->parking.forget();
      throw;
    }
  }

  std::shared_ptr<ParkingShared> shared_;
  std::unique_ptr<Session> b_;
};

TEST_F(ParkingSharedTest, ARowParkedByOneSessionIsSeenByTheOthers) {
  ASSERT_FALSE(b_->parking.anyParked());
  txn({notification("100", "1001")});  // session A: its recipient is not on the target
  ASSERT_EQ(parkedCount(), 1);
  EXPECT_TRUE(b_->parking.anyParked());
  // So when the recipient arrives through B, B finds the waiting message and applies it in
  // the same transaction (without the shared state it would wait for a periodic re-read).
  txnB({user("1001")});
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "100")));
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingSharedTest, AParentDeletedByOneSessionIsLookedUpAgainByTheOthers) {
  const Uuid user5 = idOf("dispatch_user", "5");
  txnB({user("5")});
  const int profiles = b_->parking.checker().table("public.profiles");
  ASSERT_GE(profiles, 0);
  ASSERT_TRUE(b_->parking.checker().knownPresent(profiles, user5)) << "B wrote it";

  txn({removal("dispatch_user", "5")});  // session A
  ASSERT_FALSE(exists("profiles", user5));
  EXPECT_FALSE(b_->parking.checker().knownPresent(profiles, user5));

  // A message to that user through B: B's gate asks the target and parks it before writing;
  // nothing is sent for the target to refuse.
  const std::size_t lookupsBefore = b_->parking.checker().lookups();
  const auto passesBefore = b_->writer.orderedCounters().retriedPasses;
  txnB({notification("500", "5")});
  EXPECT_EQ(b_->parking.checker().lookups() - lookupsBefore, 1u);
  EXPECT_EQ(b_->writer.orderedCounters().retriedPasses, passesBefore);
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "500")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::MissingParent) << rows[0].reason;
  EXPECT_EQ(rows[0].missingId, user5);
}

TEST_F(ParkingSharedTest, AnApplierRefusesStateBuiltOverOtherPlans) {
  auto plans = transformer_->plans();
  ASSERT_GT(plans.size(), 1u);
  auto other = std::make_shared<ParkingShared>(
      *catalog_, std::span<const WritePlan>(plans).first(plans.size() - 1));
  EXPECT_THROW(
      ParkingApplier(*conn_, plans, *writer_, *catalog_, *orderer_, store_, counts_, other),
      std::logic_error);
}

}  // namespace
}  // namespace pgmorph::parkingtest
