// TransactionApplier with apply.sessions = 2: a batch independent of the one in flight is sent on
// the second session before the first commits (both target transactions open at once), and the
// commits still go in source order; a batch that depends on the one in flight (a new parent it
// references, a parent it deletes, the same row) waits for its commit, so the result is the
// sequential apply's. Also: while anything is parked batches go one at a time; an abort with
// both sessions in flight rolls both back; a lock wait that runs out (lock_timeout) is a
// transient error and the retry applies one session at a time past what had been received.
#include <string>
#include <vector>

#include "app/tests/ApplierFixture.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph::appliertest {
namespace {

Txn txn(std::uint32_t k) {
  Lsn commit(kStart.value() + k * 0x100);
  return Txn{900 + k, commit, Lsn(commit.value() + 0x30)};
}

class SessionsTest : public ApplierTest {
 protected:
  // Client sessions of the test database with a transaction open, the observer's apart.
  int openTransactions() {
    auto res = observer_->exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "xact_start IS NOT NULL AND pid <> pg_backend_pid()");
    return std::stoi(std::string(res.value(0, 0)));
  }
  void startSessions(std::uint32_t lockTimeoutMillis = 2000) {
    stats_ = ApplyStats{};
    start(100, kStart, 2, lockTimeoutMillis);
  }
};

TEST_F(SessionsTest, IndependentBatchesRunSideBySideAndCommitInOrder) {
  startSessions();
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {customer(3), customer(4)});
  EXPECT_FALSE(applier_->commitOverlapped()) << "the first batch committed before the second "
                                                "was sent: they did not run side by side";
  EXPECT_EQ(stats_.batchesBeside, 1u);
  EXPECT_EQ(openTransactions(), 2) << "both sessions should hold an open target transaction";
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(stored().lsn, kStart);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1,2,3,4");
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(2).end);
  EXPECT_EQ(cp.appliedTransactions, 2);
  EXPECT_EQ(stats_.targetCommits, 2u);
  EXPECT_EQ(openTransactions(), 0);
}

// The order's customer is new in the batch in flight: running beside it, the order's parent
// check would not see the customer and park the order. It waits for that commit instead.
TEST_F(SessionsTest, ABatchReferencingANewRowOfTheBatchInFlightWaitsForItsCommit) {
  startSessions();
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {order(10, 1), order(20, 2)});
  EXPECT_TRUE(applier_->commitOverlapped()) << "the first batch should commit before the second";
  EXPECT_EQ(stats_.batchesBeside, 0u);
  EXPECT_EQ(stored().lsn, txn(1).end);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(orders(), "10,20");
  EXPECT_EQ(parked(), "");
  EXPECT_EQ(stored().lsn, txn(2).end);
}

// A customer known to be on the target (committed earlier) updated in one batch and referenced
// by an order in the next: independent, side by side.
TEST_F(SessionsTest, AParentKnownToExistDoesNotHoldBackItsChildren) {
  startSessions();
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_TRUE(applier_->commitIfPossible());
  feed(txn(2), {customer(1, "Renamed", ChangeKind::Update), customer(5)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {order(10, 1), order(20, 2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  EXPECT_EQ(stats_.batchesBeside, 1u);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(name(1), "Renamed");
  EXPECT_EQ(orders(), "10,20");
  EXPECT_EQ(parked(), "");
  EXPECT_EQ(stored().lsn, txn(3).end);
}

// The same after a restart, when this process has not seen the customer yet: it is looked up on
// the free session (it exists, so the update does not create it) instead of holding the order back.
TEST_F(SessionsTest, AParentThisProcessHasNotSeenIsLookedUpBeforeHoldingItsChildrenBack) {
  startSessions();
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_TRUE(applier_->commitIfPossible());
  start(100, stored().lsn, 2);  // a new process: nothing known
  feed(txn(2), {customer(1, "Renamed", ChangeKind::Update), customer(5)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {order(10, 1), order(50, 5)});  // 5 is new in the batch in flight: waits
  EXPECT_TRUE(applier_->commitOverlapped());
  EXPECT_EQ(stats_.batchesWaited, 1u);
  // Customer 1 is known now: its update runs beside the orders that reference it.
  feed(txn(4), {customer(1, "Again", ChangeKind::Update), customer(6)});
  EXPECT_FALSE(applier_->commitOverlapped());
  EXPECT_EQ(stats_.batchesBeside, 1u);
  feed(txn(5), {order(11, 1), order(20, 2)});
  EXPECT_TRUE(applier_->commitOverlapped()) << "both sessions busy: the oldest commits first";
  EXPECT_EQ(stats_.batchesBeside, 2u);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(name(1), "Again");
  EXPECT_EQ(orders(), "10,11,20,50");
  EXPECT_EQ(parked(), "");
  EXPECT_EQ(stored().lsn, txn(5).end);
}

// The same row in both batches, and a parent deleted in the first that the second references:
// each waits for the first's commit, and the result is the sequential one (the last name; the
// order of the deleted customer parked, never written beside its parent's delete).
TEST_F(SessionsTest, SameRowOrADeletedParentWaitsForTheBatchInFlight) {
  startSessions();
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_TRUE(applier_->commitIfPossible());
  feed(txn(2), {customer(1, "B", ChangeKind::Update), customer(7)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {customer(1, "C", ChangeKind::Update), customer(8)});
  EXPECT_TRUE(applier_->commitOverlapped());
  EXPECT_TRUE(applier_->commitIfPossible());
  feed(txn(4), {removal("legacy_customer", 2), customer(9)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(5), {order(20, 2), customer(10)});
  EXPECT_TRUE(applier_->commitOverlapped());
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(stats_.batchesBeside, 0u);
  EXPECT_EQ(name(1), "C");
  EXPECT_EQ(customers(), "1,7,8,9,10");
  EXPECT_EQ(orders(), "");
  EXPECT_EQ(parked(), "missing_parent:20");
  EXPECT_EQ(stored().lsn, txn(5).end);
}

// While a row is parked, its retry must follow the sequential order: batches go one at a time.
TEST_F(SessionsTest, WhileARowIsParkedBatchesGoOneAtATime) {
  startSessions();
  feed(txn(1), {order(10, 99), customer(1)});
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(parked(), "missing_parent:10");
  feed(txn(2), {customer(2), customer(3)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {customer(4), customer(99)});
  EXPECT_TRUE(applier_->commitOverlapped());
  EXPECT_EQ(stats_.batchesBeside, 0u);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(orders(), "10");  // retried when its customer arrived
  EXPECT_EQ(parked(), "");
}

// A failure with both sessions in flight: abort() rolls both back, the checkpoint stays, and the
// replay lands everything once.
TEST_F(SessionsTest, AbortWithBothSessionsInFlightRollsBothBack) {
  startSessions();
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {customer(3), customer(4)});
  EXPECT_FALSE(applier_->commitOverlapped());
  EXPECT_EQ(stats_.batchesBeside, 1u);
  feed(txn(3), {customer(5)}, /*close=*/false);
  applier_->abort();
  EXPECT_EQ(openTransactions(), 0);
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(stored().lsn, kStart);
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(2), {customer(3), customer(4)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {customer(5)});
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1,2,3,4,5");
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(3).end);
  EXPECT_EQ(cp.appliedTransactions, 3);
}

// A lock held by someone else runs out a session's lock_timeout: a transient error (the stream
// starts again from the checkpoint), and the applier made after it goes one session at a time
// until its checkpoint passes what had been received.
TEST_F(SessionsTest, ALockWaitThatRunsOutIsTransientAndTheRetryGoesOneAtATime) {
  startSessions(/*lockTimeoutMillis=*/200);
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_TRUE(applier_->commitIfPossible());
  observer_->exec("BEGIN");
  observer_->exec("UPDATE customers SET name = 'held' WHERE legacy_customer_id = 2");
  feed(txn(2), {customer(3), customer(4)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(3), {customer(2, "Two", ChangeKind::Update), customer(6)});
  EXPECT_FALSE(applier_->commitOverlapped());
  try {
    applier_->commitIfPossible();
    ADD_FAILURE() << "the lock wait did not end in an error";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), sqlstate::kLockNotAvailable) << e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Transient) << e.what();
  }
  applier_->abort();
  observer_->exec("ROLLBACK");
  EXPECT_EQ(stats_.serialUntil, txn(3).end);
  std::uint64_t besideBefore = stats_.batchesBeside;
  Lsn resumed = stored().lsn;  // the first batch committed before the second's error was read
  EXPECT_EQ(resumed, txn(2).end);
  start(100, resumed, 2, 200);  // the retry (stats_ kept): txn 2 is skipped, txn 3 applied again
  feed(txn(2), {customer(3), customer(4)});
  feed(txn(3), {customer(2, "Two", ChangeKind::Update), customer(6)});
  EXPECT_FALSE(applier_->commitOverlapped());
  feed(txn(4), {customer(7)});
  EXPECT_TRUE(applier_->commitOverlapped()) << "below serialUntil the batches go one at a time";
  EXPECT_EQ(stats_.batchesBeside, besideBefore);
  EXPECT_EQ(stored().lsn, txn(3).end);
  // Past it, side by side again.
  feed(txn(5), {customer(8)});
  EXPECT_FALSE(applier_->commitOverlapped());
  EXPECT_EQ(stats_.batchesBeside, besideBefore + 1);
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(name(2), "Two");
  EXPECT_EQ(customers(), "1,2,3,4,6,7,8");
  EXPECT_EQ(stored().lsn, txn(5).end);
}

}  // namespace
}  // namespace pgmorph::appliertest
