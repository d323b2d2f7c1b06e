// TransactionApplier against a real PostgreSQL 15 target, through its public interface only:
// skipping at or below the checkpoint (both forms of the rule), chunks of a large source
// transaction inside one open target transaction, commits only at source commit boundaries
// (several source transactions per target commit), abort() and a replay, and advanceIdle().
// What is committed is read from a second session; the checkpoint row through CheckpointStore.
#include <map>
#include <string>
#include <vector>

#include "app/tests/ApplierFixture.h"
#include "state/UnmappedStore.h"

namespace pgmorph::appliertest {
namespace {

// Source transaction k after the start: commit record at kStart + k*0x100, ending 0x30 later.
Txn txn(std::uint32_t k) {
  Lsn commit(kStart.value() + k * 0x100);
  return Txn{700 + k, commit, Lsn(commit.value() + 0x30)};
}

TEST_F(ApplierTest, SkipsATransactionWhoseCommitEndIsAtOrBelowTheCheckpoint) {
  start(100);
  // Ends exactly at the checkpoint: already applied.
  feed(Txn{701, Lsn::parse("0/4FD0"), kStart}, {customer(1), order(10, 1)});
  // Ends below it.
  feed(Txn{702, Lsn::parse("0/4E00"), Lsn::parse("0/4E30")}, {customer(2)});
  EXPECT_EQ(stats_.transactionsSkipped, 2u);
  EXPECT_EQ(stats_.changesApplied, 0u);
  EXPECT_EQ(stats_.writes, 0u);
  EXPECT_FALSE(applier_->hasPendingCommits());
  EXPECT_FALSE(applier_->commitIfPossible());  // nothing to commit
  EXPECT_EQ(stats_.targetCommits, 0u);

  // Ends one byte past it: applied.
  feed(Txn{703, Lsn::parse("0/5000"), Lsn::parse("0/5001")}, {customer(3), order(30, 3)});
  EXPECT_TRUE(applier_->hasPendingCommits());
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "3");
  EXPECT_EQ(orders(), "30");
  EXPECT_EQ(stats_.transactionsSkipped, 2u);
  EXPECT_EQ(stats_.transactionsApplied, 1u);
  EXPECT_EQ(stats_.changesApplied, 2u);
  EXPECT_EQ(applier_->checkpoint(), Lsn::parse("0/5001"));
  EXPECT_EQ(stats_.checkpoint, Lsn::parse("0/5001"));
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, Lsn::parse("0/5001"));
  EXPECT_EQ(cp.appliedTransactions, 1);
  // The carried source commit's time goes with the position (`pgmorph status` reads it).
  EXPECT_EQ(cp.sourceCommitMicros, 1735725600000000);
}

TEST_F(ApplierTest, WithoutAnEndOnBeginSkipsWhenTheCommitLsnIsBelowTheCheckpoint) {
  start(100);
  // The commit record starts below the checkpoint: it ends at or below it, already applied.
  feed(Txn{711, Lsn::parse("0/4FFF"), Lsn()}, {customer(1)});
  EXPECT_EQ(stats_.transactionsSkipped, 1u);
  EXPECT_FALSE(applier_->hasPendingCommits());

  // The commit record starts at the checkpoint (right after the last applied one): applied.
  // Its C carries the end, which becomes the checkpoint.
  feed(Txn{712, kStart, Lsn()}, {customer(2)}, /*close=*/false);
  applier_->onChange(boundary(ChangeKind::Commit, Txn{712, kStart, Lsn::parse("0/5030")}));
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "2");
  EXPECT_EQ(stats_.transactionsSkipped, 1u);
  EXPECT_EQ(stats_.transactionsApplied, 1u);
  EXPECT_EQ(applier_->checkpoint(), Lsn::parse("0/5030"));
  EXPECT_EQ(stored().lsn, Lsn::parse("0/5030"));
}

// A commit whose end LSN nobody sent cannot be a checkpoint: its own LSN stored instead would
// not be skipped after a restart (the rule above compares it with "<"), so it would be applied
// twice. The applier stops and writes nothing of it.
TEST_F(ApplierTest, ACommitWithoutItsEndLsnStopsAndCommitsNothing) {
  start(100);
  feed(Txn{713, Lsn::parse("0/6000"), Lsn()}, {customer(3)}, /*close=*/false);
  EXPECT_THROW(
      applier_->onChange(boundary(ChangeKind::Commit, Txn{713, Lsn::parse("0/6000"), Lsn()})),
      PgmorphError);
  applier_->abort();
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(stored().lsn, kStart);
  EXPECT_EQ(applier_->checkpoint(), kStart);
}

// A change of a table the mapping does not name is counted under its schema.table, so that
// nothing disappears silently; it writes nothing and still moves the checkpoint.
TEST_F(ApplierTest, ChangesOfUnmappedTablesAreCounted) {
  start(100);
  feed(txn(1), {makeChange(ChangeKind::Insert, "audit_log", {num("id", "1")}), customer(1),
                makeChange(ChangeKind::Insert, "audit_log", {num("id", "2")})});
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(stats_.changesUnmapped, 2u);
  EXPECT_EQ(stats_.tables["public.audit_log"].filtered, 2u);
  EXPECT_EQ(stats_.changesApplied, 1u);
  EXPECT_EQ(customers(), "1");
  EXPECT_EQ(stored().lsn, txn(1).end);
}

// A table neither mapped nor in ignore: (a misspelled mapping, say): its skipped changes are
// stored per table with the checkpoint (status reads them) and published in /metrics; a rolled
// back target transaction stores nothing, so its replay counts once. A table in ignore: is
// counted apart, not stored.
TEST_F(ApplierTest, UnmappedTablesAreStoredWithTheCheckpointIgnoredOnesApart) {
  start(100);
  config_->ignore.push_back({"public", "audit_log", 0});
  PipelineMetrics metrics(60);
  applier_->setMetrics(&metrics);
  auto paymnt = [](int id) {
    return makeChange(ChangeKind::Insert, "dispatch_paymnt", {num("id", std::to_string(id))});
  };
  feed(txn(1), {makeChange(ChangeKind::Insert, "audit_log", {num("id", "1")}), paymnt(1),
                customer(1), paymnt(2)});
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(stats_.changesIgnored, 1u);
  EXPECT_EQ(stats_.changesUnmapped, 2u);
  EXPECT_EQ(stats_.unmapped, (std::map<std::string, std::uint64_t>{{"public.dispatch_paymnt", 2}}));
  UnmappedStore unmapped("pgmorph", "shop");
  auto counts = unmapped.load(*observer_);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].table, "public.dispatch_paymnt");
  EXPECT_EQ(counts[0].changes, 2u);
  EXPECT_EQ(metrics.registry().value("pgmorph_unmapped_changes_total",
                                     {{"table", "public.dispatch_paymnt"}}),
            2);
  EXPECT_EQ(metrics.registry().value("pgmorph_row_changes_ignored_total"), 1);

  feed(txn(2), {paymnt(3)});
  applier_->abort();
  EXPECT_EQ(unmapped.load(*observer_)[0].changes, 2u);
  feed(txn(2), {paymnt(3)});
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(unmapped.load(*observer_)[0].changes, 3u);
  EXPECT_EQ(stored().lsn, txn(2).end);
}

TEST_F(ApplierTest, WritesALargeSourceTransactionInChunksIntoOneOpenTargetTransaction) {
  start(3);
  const Txn t = txn(1);
  std::vector<Change> rows;
  for (int c = 1; c <= 4; ++c) rows.push_back(customer(c));
  for (int o = 11; o <= 16; ++o) rows.push_back(order(o, o % 4 + 1));  // parents in earlier chunks
  applier_->onChange(boundary(ChangeKind::Begin, t));
  std::string writes;
  for (const Change& row : rows) {
    applier_->onChange(row);
    writes += std::to_string(stats_.writes) + " ";
    if (stats_.writes == 6) {
      EXPECT_EQ(customers(), "") << "a chunk is visible before its source transaction commits";
      EXPECT_EQ(orders(), "");
    }
  }
  // A chunk of 3 is written on every third change; the target transaction stays open.
  EXPECT_EQ(writes, "0 0 3 3 3 6 6 6 9 9 ");
  EXPECT_TRUE(applier_->batchFull());
  EXPECT_EQ(stats_.changesApplied, 10u);
  EXPECT_TRUE(applier_->inSourceTransaction());
  EXPECT_FALSE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(orders(), "");
  EXPECT_EQ(stored().lsn, kStart);

  applier_->onChange(boundary(ChangeKind::Commit, t));
  EXPECT_FALSE(applier_->inSourceTransaction());
  EXPECT_TRUE(applier_->hasPendingCommits());
  EXPECT_EQ(customers(), "");  // still open on the target
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(stats_.writes, 10u);  // the last one at the commit
  EXPECT_EQ(customers(), "1,2,3,4");
  EXPECT_EQ(orders(), "11,12,13,14,15,16");
  EXPECT_EQ(stats_.targetCommits, 1u);
  EXPECT_EQ(stats_.transactionsApplied, 1u);
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, t.end);
  EXPECT_EQ(cp.appliedTransactions, 1);
  EXPECT_EQ(applier_->checkpoint(), t.end);
  EXPECT_FALSE(applier_->hasPendingCommits());
  EXPECT_FALSE(applier_->batchFull());
}

// The changes buffered before the target transaction opens (those of the first chunk, or of
// the source transaction whose commit opens it) count towards apply.batch_changes.
TEST_F(ApplierTest, BatchFullCountsTheChangesBufferedBeforeTheTargetTransactionOpened) {
  start(3);
  feed(txn(1), {customer(1), customer(2)});
  EXPECT_FALSE(applier_->batchFull());  // 2 of 3
  feed(txn(2), {customer(3)});
  EXPECT_EQ(stats_.writes, 3u);
  EXPECT_TRUE(applier_->batchFull());
}

TEST_F(ApplierTest, CommitsOnlyAtASourceCommitBoundary) {
  start(100);
  feed(txn(1), {customer(1), customer(2)}, /*close=*/false);
  EXPECT_TRUE(applier_->inSourceTransaction());
  EXPECT_FALSE(applier_->hasPendingCommits());
  EXPECT_FALSE(applier_->commitIfPossible());
  EXPECT_EQ(stats_.targetCommits, 0u);
  applier_->onChange(boundary(ChangeKind::Commit, txn(1)));
  EXPECT_FALSE(applier_->inSourceTransaction());
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1,2");
  EXPECT_EQ(stored().lsn, txn(1).end);

  // Source transaction 2 is complete, 3 is half-way: 2 must wait for 3's commit.
  feed(txn(2), {order(21, 1)});
  feed(txn(3), {order(31, 2)}, /*close=*/false);
  EXPECT_TRUE(applier_->hasPendingCommits());
  EXPECT_FALSE(applier_->commitIfPossible());
  EXPECT_EQ(orders(), "");
  EXPECT_EQ(stored().lsn, txn(1).end);
  EXPECT_EQ(applier_->checkpoint(), txn(1).end);
  EXPECT_EQ(stats_.targetCommits, 1u);

  applier_->onChange(boundary(ChangeKind::Commit, txn(3)));
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(orders(), "21,31");
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(3).end);
  EXPECT_EQ(cp.appliedTransactions, 3);
  EXPECT_EQ(stats_.transactionsApplied, 3u);
  EXPECT_EQ(stats_.targetCommits, 2u);
  EXPECT_FALSE(applier_->commitIfPossible());  // nothing left
  EXPECT_EQ(stats_.targetCommits, 2u);
}

TEST_F(ApplierTest, BuffersSeveralSourceTransactionsIntoOneTargetCommit) {
  start(100);
  feed(txn(1), {customer(1), customer(2)});
  feed(txn(2), {order(10, 1), customer(2, "Renamed", ChangeKind::Update)});
  feed(txn(3), {order(11, 2)});
  feed(txn(4), {removal("legacy_order", 10)});
  EXPECT_TRUE(applier_->hasPendingCommits());
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(stored().lsn, kStart);

  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1,2");
  EXPECT_EQ(orders(), "11");
  EXPECT_EQ(
      std::string(
          observer_->exec("SELECT name FROM customers WHERE legacy_customer_id = 2").value(0, 0)),
      "Renamed");
  EXPECT_EQ(stats_.transactionsApplied, 4u);
  EXPECT_EQ(stats_.targetCommits, 1u);
  EXPECT_EQ(stats_.changesApplied, 6u);
  EXPECT_EQ(stats_.writes, 6u);
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(4).end);
  EXPECT_EQ(cp.appliedTransactions, 4);
  EXPECT_EQ(applier_->checkpoint(), txn(4).end);
}

TEST_F(ApplierTest, AbortRollsBackAndTheSameTransactionIsAppliedOnceWhenSentAgain) {
  start(3);
  const std::string before = checkpointXmin();
  // Committed on the source, applied (one chunk written) but not committed on the target.
  auto first = [] {
    return std::vector<Change>{customer(1), customer(2), customer(3), customer(4)};
  };
  feed(txn(1), first());
  EXPECT_EQ(stats_.writes, 3u);
  applier_->abort();
  EXPECT_FALSE(applier_->hasPendingCommits());
  EXPECT_FALSE(applier_->inSourceTransaction());
  EXPECT_FALSE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "");
  EXPECT_EQ(stored().lsn, kStart);
  EXPECT_EQ(checkpointXmin(), before);
  EXPECT_EQ(applier_->checkpoint(), kStart);

  feed(txn(1), first());  // the stream sends it again from the checkpoint
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1,2,3,4");
  EXPECT_EQ(stats_.writes, 3u + 4u);  // issued: the rolled-back chunk, then all 4
  EXPECT_EQ(stats_.transactionsApplied, 1u);
  EXPECT_EQ(stats_.transactionsSkipped, 0u);
  EXPECT_EQ(stats_.targetCommits, 1u);
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, txn(1).end);
  EXPECT_EQ(cp.appliedTransactions, 1);

  // Aborted half-way through a source transaction, with one write still buffered.
  auto second = [] {
    return std::vector<Change>{customer(5), customer(6), customer(7), customer(8)};
  };
  feed(txn(2), second(), /*close=*/false);
  EXPECT_EQ(stats_.writes, 10u);
  applier_->abort();
  EXPECT_FALSE(applier_->inSourceTransaction());
  EXPECT_EQ(customers(), "1,2,3,4");
  feed(txn(2), second());
  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(customers(), "1,2,3,4,5,6,7,8");
  EXPECT_EQ(stats_.writes, 14u);  // nothing of the aborted attempt is written again
  EXPECT_EQ(stats_.transactionsApplied, 2u);
  cp = stored();
  EXPECT_EQ(cp.lsn, txn(2).end);
  EXPECT_EQ(cp.appliedTransactions, 2);
}

TEST_F(ApplierTest, AdvanceIdleMovesTheCheckpointOnlyWhenIdleAndForward) {
  start(100);
  const Lsn idle = Lsn::parse("0/5080");
  applier_->advanceIdle(idle);
  EXPECT_EQ(applier_->checkpoint(), idle);
  EXPECT_EQ(stats_.checkpoint, idle);
  Checkpoint cp = stored();
  EXPECT_EQ(cp.lsn, idle);
  EXPECT_EQ(cp.appliedTransactions, 0);
  EXPECT_EQ(stats_.targetCommits, 0u);

  // At or below the checkpoint: no transaction at all (the row is not even rewritten).
  const std::string written = checkpointXmin();
  applier_->advanceIdle(idle);
  applier_->advanceIdle(Lsn::parse("0/507F"));
  EXPECT_EQ(checkpointXmin(), written);
  EXPECT_EQ(applier_->checkpoint(), idle);
  EXPECT_EQ(stats_.checkpoint, idle);

  // Inside a source transaction (nothing written to the target yet).
  feed(txn(1), {customer(1)}, /*close=*/false);
  applier_->advanceIdle(Lsn::parse("0/5400"));
  EXPECT_EQ(applier_->checkpoint(), idle);
  EXPECT_EQ(checkpointXmin(), written);

  // With the target transaction open (the source commit is not committed on the target yet).
  applier_->onChange(boundary(ChangeKind::Commit, txn(1)));
  applier_->advanceIdle(Lsn::parse("0/5400"));
  EXPECT_EQ(applier_->checkpoint(), idle);
  EXPECT_EQ(checkpointXmin(), written);
  EXPECT_EQ(customers(), "");

  EXPECT_TRUE(applier_->commitIfPossible());
  EXPECT_EQ(stored().lsn, txn(1).end);
  applier_->advanceIdle(Lsn::parse("0/5400"));
  cp = stored();
  EXPECT_EQ(cp.lsn, Lsn::parse("0/5400"));
  EXPECT_EQ(cp.appliedTransactions, 1);
  EXPECT_EQ(applier_->checkpoint(), Lsn::parse("0/5400"));
  EXPECT_EQ(customers(), "1");
}

}  // namespace
}  // namespace pgmorph::appliertest
