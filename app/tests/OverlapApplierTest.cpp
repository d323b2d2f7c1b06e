// TransactionApplier's overlap (commitOverlapped): batch N is handed to the target and the next
// batch is transformed while N is still in flight; N's results — refusals parked, rows that
// landed, parked rows retried — and its commit must be known before batch N+1's parked
// entries and parents are looked up. Each test hands N over, feeds N+1 while N is in flight
// (the observer session must not see N yet), hands N+1 over (which commits N) and finishes.
#include <string>
#include <vector>

#include "app/tests/ApplierFixture.h"

namespace pgmorph::appliertest {
namespace {

Txn txn(std::uint32_t k) {
  Lsn commit(kStart.value() + k * 0x100);
  return Txn{800 + k, commit, Lsn(commit.value() + 0x30)};
}

using OverlapTest = ApplierTest;

// An order parked in batch N (its customer is missing) and the customer arriving in batch
// N+1, transformed while N is still in flight: N+1's hand-over reads N (the order is parked by
// then) and the customer's arrival retries it in N+1's transaction.
TEST_F(OverlapTest, AParentArrivingInTheNextBatchReleasesARowParkedInTheBatchInFlight) {
  start(100);
  feed(txn(1), {customer(1), order(10, 2)});
  EXPECT_FALSE(applier_->commitOverlapped());  // nothing committed before: N is in flight
  EXPECT_TRUE(applier_->hasPendingCommits());
  feed(txn(2), {customer(2), order(20, 2)});  // transformed while N runs
  EXPECT_EQ(customers(), "") << "batch N is visible before its commit";
  EXPECT_TRUE(applier_->commitOverlapped());  // N committed, N+1 in flight
  EXPECT_EQ(customers(), "1");
  EXPECT_EQ(orders(), "");
  EXPECT_EQ(parked(), "missing_parent:10");
  EXPECT_EQ(stored().lsn, txn(1).end);
  EXPECT_EQ(applier_->checkpoint(), txn(1).end);
  EXPECT_TRUE(applier_->commitIfPossible());  // N+1
  EXPECT_EQ(customers(), "1,2");
  EXPECT_EQ(orders(), "10,20");
  EXPECT_EQ(parked(), "");
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(2).end);
  EXPECT_EQ(cp.appliedTransactions, 2);
  EXPECT_EQ(stats_.targetCommits, 2u);
  EXPECT_FALSE(applier_->hasPendingCommits());
}

// A customer deleted in batch N (in flight) and inserted again in batch N+1 with a new name,
// with an order of it in each batch: the deleted one goes with the customer (children first),
// the new one lands once the customer is back — never the old row, never an orphan. And a
// customer deleted in N whose order arrives in N+1 without it: parked (the parent check must
// not trust what was known before N deleted it).
TEST_F(OverlapTest, ADeleteInTheBatchInFlightAndAReinsertInTheNextOne) {
  start(100);
  feed(txn(1), {customer(1, "Old"), order(10, 1), customer(3)});
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(orders(), "10");

  feed(txn(2),
       {removal("legacy_order", 10), removal("legacy_customer", 1), removal("legacy_customer", 3)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {customer(1, "New"), order(11, 1), order(30, 3)});
  EXPECT_EQ(customers(), "1,3");  // N in flight: nothing of it committed
  EXPECT_TRUE(applier_->commitOverlapped());
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(orders(), "");
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1");
  EXPECT_EQ(name(1), "New");
  EXPECT_EQ(orders(), "11");
  EXPECT_EQ(parked(), "missing_parent:30");
  EXPECT_EQ(stored().lsn, txn(3).end);
}

// A customer the target refuses in batch N (name NULL: NOT NULL) is parked when N's results
// are read; its update in batch N+1, transformed while N was in flight, is merged with that
// parked entry (which goes away) instead of landing beside a stale one.
TEST_F(OverlapTest, ARowRefusedInTheBatchInFlightIsMergedWithItsUpdateInTheNextBatch) {
  start(100);
  feed(txn(1), {customer(4), makeChange(ChangeKind::Insert, "legacy_customer",
                                        {num("id", "5"), test::null("name")})});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {customer(5, "Fixed", ChangeKind::Update), order(50, 5)});
  EXPECT_EQ(parked(), "");  // not read yet
  EXPECT_TRUE(applier_->commitOverlapped());
  EXPECT_EQ(customers(), "4");
  EXPECT_EQ(parked(), "refused:5");
  EXPECT_EQ(stored().lsn, txn(1).end);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "4,5");
  EXPECT_EQ(name(5), "Fixed");
  EXPECT_EQ(orders(), "50");
  EXPECT_EQ(parked(), "");
}

// A failure of the batch in flight surfaces at the next call that finishes it; abort() then
// rolls it back and drops the batch transformed meanwhile, and both applied again land once.
TEST_F(OverlapTest, AbortWithABatchInFlightRollsItBackAndTheReplayLandsOnce) {
  start(100);
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {order(10, 1)}, /*close=*/false);
  applier_->abort();
  EXPECT_FALSE(applier_->hasPendingCommits());
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(stored().lsn, kStart);
  EXPECT_EQ(applier_->checkpoint(), kStart);

  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {order(10, 1)});
  EXPECT_TRUE(applier_->commitIfPossible());  // N, then N+1 synchronously
  EXPECT_EQ(customers(), "1,2");
  EXPECT_EQ(orders(), "10");
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(2).end);
  EXPECT_EQ(cp.appliedTransactions, 2);
  EXPECT_EQ(stats_.targetCommits, 2u);
}

}  // namespace
}  // namespace pgmorph::appliertest
