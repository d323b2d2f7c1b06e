// SnapshotStore against a real PostgreSQL 15 target: the snapshot record and per-task
// progress, tasks done in several ranges committed by concurrent sessions, and "done"
// committing (or vanishing) with the rows of the transaction it runs in.
#include "state/SnapshotStore.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("snapstore");
    conn_ = std::make_unique<PgConnection>(conninfo(), "target");
    store_.ensureSchema(*conn_);
    store_.ensureSchema(*conn_);  // idempotent
  }
  void TearDown() override {
    conn_.reset();
    test::sharedTarget().dropDatabase(db_);
  }
  std::string conninfo() const { return test::sharedTarget().conninfo(db_); }
  SnapshotTaskRow task(const std::string& id) {
    for (auto& t : store_.tasks(*conn_))
      if (t.task == id) return t;
    ADD_FAILURE() << "no task " << id;
    return {};
  }

  std::string db_;
  std::unique_ptr<PgConnection> conn_;
  SnapshotStore store_{"pgmorph state", "dispatch"};
  std::vector<SnapshotTaskSpec> specs_ = {{"public.a <- public.x #0", "public.x", "public.a"},
                                          {"public.b <- public.y #0", "public.y", "public.b"}};
};

TEST_F(SnapshotStoreTest, RecordsASnapshotAndItsTasksAndReplacesAnEarlierOne) {
  EXPECT_FALSE(store_.load(*conn_).has_value());
  SnapshotRecord rec{"pgmorph_dispatch", Lsn::parse("0/16B3748"), "00000003-00000002-1",
                     SnapshotStatus::InProgress};
  store_.start(*conn_, rec, specs_);
  auto loaded = store_.load(*conn_);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->slot, "pgmorph_dispatch");
  EXPECT_EQ(loaded->consistentPoint, Lsn::parse("0/16B3748"));
  EXPECT_EQ(loaded->snapshotName, "00000003-00000002-1");
  EXPECT_EQ(loaded->status, SnapshotStatus::InProgress);
  auto tasks = store_.tasks(*conn_);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].state, SnapshotTaskState::Pending);
  EXPECT_EQ(tasks[0].sourceTable, "public.x");
  EXPECT_EQ(tasks[0].targetTable, "public.a");

  store_.markCopying(*conn_, specs_[0].task, 1);
  EXPECT_TRUE(store_.addRange(*conn_, specs_[0].task, 10));
  rec.snapshotName = "00000004-00000001-1";
  store_.start(*conn_, rec, {specs_[1]});
  EXPECT_EQ(store_.load(*conn_)->snapshotName, "00000004-00000001-1");
  tasks = store_.tasks(*conn_);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].task, specs_[1].task);
  EXPECT_EQ(tasks[0].state, SnapshotTaskState::Pending);

  // Another pipeline in the same state schema is untouched by this one's clear().
  SnapshotStore other("pgmorph state", "other");
  other.start(*conn_, rec, specs_);
  store_.clear(*conn_);
  EXPECT_FALSE(store_.load(*conn_));
  EXPECT_TRUE(other.load(*conn_));
  EXPECT_EQ(other.tasks(*conn_).size(), 2u);
}

TEST_F(SnapshotStoreTest, ATaskIsDoneWithItsLastRangeEvenWhenRangesCommitConcurrently) {
  SnapshotRecord rec{"s", Lsn::parse("0/1"), "snap", SnapshotStatus::InProgress};
  store_.start(*conn_, rec, specs_);
  const int ranges = 8;
  store_.markCopying(*conn_, specs_[0].task, ranges);
  EXPECT_EQ(task(specs_[0].task).state, SnapshotTaskState::Copying);
  std::atomic<int> sawDone{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < ranges; ++i)
    threads.emplace_back([&, i] {
      PgConnection c(conninfo(), "target");
      c.exec("BEGIN");
      if (store_.addRange(c, specs_[0].task, 100 + i)) ++sawDone;
      c.exec("COMMIT");
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(sawDone.load(), 1);
  auto t = task(specs_[0].task);
  EXPECT_EQ(t.state, SnapshotTaskState::Done);
  EXPECT_EQ(t.rows, 8 * 100 + 28);
  EXPECT_EQ(t.rangesDone, ranges);
  EXPECT_EQ(t.rangesTotal, ranges);
  EXPECT_GE(t.seconds, 0.0);
  // A part recorded for a task that is not being copied is a bug of the caller.
  EXPECT_THROW(store_.addRange(*conn_, specs_[0].task, 1), std::logic_error);
}

TEST_F(SnapshotStoreTest, DoneVanishesWithARolledBackCopyAndTheRecordIsMarkedDoneOnce) {
  SnapshotRecord rec{"s", Lsn::parse("0/1"), "snap", SnapshotStatus::InProgress};
  store_.start(*conn_, rec, specs_);
  store_.markCopying(*conn_, specs_[1].task, 1);
  conn_->exec("BEGIN");
  EXPECT_TRUE(store_.addRange(*conn_, specs_[1].task, 42));
  conn_->exec("ROLLBACK");
  EXPECT_EQ(task(specs_[1].task).state, SnapshotTaskState::Copying);
  EXPECT_EQ(task(specs_[1].task).rows, 0);
  store_.markPending(*conn_, specs_[1].task);
  EXPECT_EQ(task(specs_[1].task).state, SnapshotTaskState::Pending);

  conn_->exec("BEGIN");
  store_.markDone(*conn_);
  conn_->exec("COMMIT");
  EXPECT_EQ(store_.load(*conn_)->status, SnapshotStatus::Done);
  EXPECT_THROW(store_.markDone(*conn_), std::logic_error);
}

}  // namespace
}  // namespace pgmorph
