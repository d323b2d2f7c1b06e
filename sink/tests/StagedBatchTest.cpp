// Staging (ParkingApplier, "Staging"): the next batch's decisions are made while the target
// still runs the batch before, and start() sends them as made — but only what cannot depend on
// that batch: a parent it deletes is not taken from the cache, and a row it parks (or a batch
// it has withdrawn) sends the next one down the path of facts, where parked rows are merged.
#include <gtest/gtest.h>

#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class StagedBatchTest : public ParkingTest {
 protected:
  void SetUp() override {
    ParkingTest::SetUp();
    txn({office("1"), user("1")});
    start();
  }
  std::size_t lookups() const { return parking_->checker().lookups(); }
  std::uint64_t withdrawn() const { return writer_->orderedCounters().withdrawnPasses; }

  WriteBatch transformed(const std::vector<Change>& changes) {
    WriteBatch out;
    for (const Change& c : changes) transformer_->transformWithPolicy(c, out);
    return out;
  }
  // Batch `a` is sent; `b` is staged while `a` is on the target (when `stage`); `a` is read
  // and committed, then `b` is sent (or `other`, when given) and committed, as
  // TransactionApplier drives one session.
  void twoBatches(WriteBatch& a, WriteBatch& b, WriteBatch* other = nullptr) {
    writer_->begin();
    parking_->start(a.writes());
    parking_->prestage(b.writes());
    parking_->finish();
    writer_->commit(Lsn(++lsn_), 1);
    writer_->begin();
    parking_->start(other ? other->writes() : b.writes());
    parking_->finish();
    writer_->commit(Lsn(++lsn_), 1);
  }
};

TEST_F(StagedBatchTest, ABatchStagedWhileTheOneBeforeRunsIsSentAsStaged) {
  std::size_t before = lookups();
  WriteBatch a = transformed({user("2"), notification("100", "1")});
  WriteBatch b = transformed({notification("101", "2"), notification("102", "1")});
  twoBatches(a, b);
  EXPECT_EQ(parking_->stagedBatches(), 1u);
  EXPECT_EQ(lookups() - before, 0u);
  EXPECT_EQ(withdrawn(), 0u);
  for (const char* id : {"100", "101", "102"})
    EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", id))) << id;
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(StagedBatchTest, AParentTheBatchBeforeDeletesIsNotTakenFromTheCache) {
  // The recipient's key does not fire: nothing but pgmorph's own check keeps the orphan out.
  observer_->exec("ALTER TABLE system_messages DISABLE TRIGGER ALL");
  start();
  txn({user("2"), notification("100", "2")});  // the cache now knows user 2
  WriteBatch a =
      transformed({removal("dispatch_notification", "100"), removal("dispatch_user", "2")});
  WriteBatch b = transformed({notification("101", "2")});
  twoBatches(a, b);
  EXPECT_EQ(parking_->stagedBatches(), 0u) << "only a lookup settles the recipient";
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "101")))
      << "written with a recipient the batch before deleted";
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].legacyKey, "101");
  EXPECT_EQ(rows[0].missingId, idOf("dispatch_user", "2"));
}

TEST_F(StagedBatchTest, ARowParkedByTheBatchBeforeSendsTheNextOneOnFacts) {
  // Batch a's notification waits for recipient 1001; batch b updates it: b's write must be
  // merged into the parked entry (one entry, the new value), which a staged batch cannot do.
  WriteBatch a = transformed({notification("100", "1001")});
  WriteBatch b =
      transformed({notification("100", "1001", R"({"order": 2})", ChangeKind::Update, "1")});
  twoBatches(a, b);
  EXPECT_EQ(parking_->stagedBatches(), 0u);
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "100")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u) << "the update was parked beside the entry, not merged into it";
  // The recipient arrives: the merged row lands as last written.
  txn({user("1001")});
  EXPECT_EQ(column("system_messages", idOf("dispatch_notification", "100"), "is_read"), "true");
  EXPECT_EQ(column("system_messages", idOf("dispatch_notification", "100"), "context"),
            R"({"order": 2})");
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(StagedBatchTest, AStartWithOtherWritesDiscardsTheStaging) {
  WriteBatch a = transformed({notification("100", "1")});
  WriteBatch b = transformed({notification("101", "1")});
  WriteBatch c = transformed({notification("102", "1")});
  twoBatches(a, b, &c);
  EXPECT_EQ(parking_->stagedBatches(), 0u);
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "102")));
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "101")));
}

}  // namespace
}  // namespace pgmorph::parkingtest
