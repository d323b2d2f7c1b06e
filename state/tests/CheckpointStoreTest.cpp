#include "state/CheckpointStore.h"

#include <gtest/gtest.h>

#include "tests/support/SharedClusters.h"

namespace pgmorph {

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = test::sharedTarget().createDatabase("ckpt"); }
  void TearDown() override { test::sharedTarget().dropDatabase(db_); }
  PgConnection connect() { return PgConnection(test::sharedTarget().conninfo(db_), "target"); }
  std::string db_;
};

TEST_F(CheckpointStoreTest, StartsEmptyThenRemembersTheLastCommittedPosition) {
  auto conn = connect();
  CheckpointStore store("pgmorph", "dispatch");
  store.ensureSchema(conn);
  store.ensureSchema(conn);  // idempotent
  EXPECT_FALSE(store.load(conn).has_value());

  conn.exec("BEGIN");
  store.save(conn, Lsn::parse("0/16B3780"), "slot_a", 3);
  conn.exec("COMMIT");
  auto cp = store.load(conn);
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->lsn, Lsn::parse("0/16B3780"));
  EXPECT_EQ(cp->slot, "slot_a");
  EXPECT_EQ(cp->appliedTransactions, 3);
}

TEST_F(CheckpointStoreTest, RolledBackSaveLeavesNoTrace) {
  auto conn = connect();
  CheckpointStore store("pgmorph", "dispatch");
  store.ensureSchema(conn);
  conn.exec("BEGIN");
  store.save(conn, Lsn::parse("0/100"), "s", 1);
  conn.exec("COMMIT");
  conn.exec("BEGIN");
  store.save(conn, Lsn::parse("0/200"), "s", 1);
  conn.exec("ROLLBACK");
  EXPECT_EQ(store.load(conn)->lsn, Lsn::parse("0/100"));
  EXPECT_EQ(store.load(conn)->appliedTransactions, 1);
}

TEST_F(CheckpointStoreTest, NeverMovesBackwards) {
  auto conn = connect();
  CheckpointStore store("pgmorph", "dispatch");
  store.ensureSchema(conn);
  store.save(conn, Lsn::parse("1/0"), "s", 1);
  store.save(conn, Lsn::parse("0/FFFF"), "s", 1);
  EXPECT_EQ(store.load(conn)->lsn, Lsn::parse("1/0"));
}

TEST_F(CheckpointStoreTest, PipelinesAndSchemasAreSeparate) {
  auto conn = connect();
  CheckpointStore a("pgmorph", "one"), b("pgmorph", "two"), c("other state", "one");
  a.ensureSchema(conn);
  c.ensureSchema(conn);
  a.save(conn, Lsn::parse("0/10"), "s", 1);
  EXPECT_FALSE(b.load(conn).has_value());
  EXPECT_FALSE(c.load(conn).has_value());
  a.reset(conn);
  EXPECT_FALSE(a.load(conn).has_value());
}

TEST_F(CheckpointStoreTest, KeepsTheLastAppliedSourceCommitTime) {
  auto conn = connect();
  CheckpointStore store("pgmorph", "dispatch");
  store.ensureSchema(conn);
  store.save(conn, Lsn::parse("0/100"), "s", 0);  // e.g. a snapshot's consistent point
  EXPECT_EQ(store.load(conn)->sourceCommitMicros, 0);
  EXPECT_EQ(store.load(conn)->lastAppliedMicros, 0);  // no transaction carried yet
  EXPECT_GT(store.load(conn)->updatedAtMicros, 0);
  const std::int64_t t1 = 1735725600123457;  // 2025-01-01 10:00:00.123457 UTC, exactly
  store.save(conn, Lsn::parse("0/200"), "s", 1, t1);
  EXPECT_EQ(store.load(conn)->sourceCommitMicros, t1);
  const std::int64_t applied = store.load(conn)->lastAppliedMicros;
  EXPECT_GT(applied, 0);
  EXPECT_EQ(test::sharedTarget().scalar(
                db_, "SELECT source_commit_time AT TIME ZONE 'UTC' FROM pgmorph.checkpoint"),
            "2025-01-01 10:00:00.123457");
  // An idle advance carries no commit time: the last applied one stays.
  store.save(conn, Lsn::parse("0/300"), "s", 0);
  EXPECT_EQ(store.load(conn)->sourceCommitMicros, t1);
  EXPECT_EQ(store.load(conn)->lastAppliedMicros, applied);
  // A save behind the checkpoint moves neither the position nor the time.
  store.save(conn, Lsn::parse("0/250"), "s", 1, t1 + 5);
  EXPECT_EQ(store.load(conn)->lsn, Lsn::parse("0/300"));
  EXPECT_EQ(store.load(conn)->sourceCommitMicros, t1);
}

TEST_F(CheckpointStoreTest, ReadsAndUpgradesATableOfAnOlderVersion) {
  // The checkpoint table as pgmorph created it before source_commit_time existed.
  test::sharedTarget().psql(db_, R"sql(
CREATE SCHEMA pgmorph;
CREATE TABLE pgmorph.checkpoint (pipeline text PRIMARY KEY, lsn pg_lsn NOT NULL,
  slot text NOT NULL, applied_transactions bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO pgmorph.checkpoint (pipeline, lsn, slot, applied_transactions)
  VALUES ('dispatch', '0/500', 's', 7);
)sql");
  auto conn = connect();
  CheckpointStore store("pgmorph", "dispatch");
  auto old = store.load(conn);  // read-only: no column added
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->lsn, Lsn::parse("0/500"));
  EXPECT_EQ(old->sourceCommitMicros, 0);
  store.ensureSchema(conn);
  EXPECT_EQ(store.load(conn)->sourceCommitMicros, 0);  // the old row reads NULL
  EXPECT_EQ(store.load(conn)->appliedTransactions, 7);
  store.save(conn, Lsn::parse("0/600"), "s", 1, 1735725600000000);
  EXPECT_EQ(store.load(conn)->sourceCommitMicros, 1735725600000000);
}

// A reader of the checkpoint that stays in its transaction (a monitoring query, the bench's
// watcher) holds a lock that ALTER TABLE would queue behind: a start of pgmorph on an
// up-to-date table must not wait for it.
TEST_F(CheckpointStoreTest, EnsureSchemaOnAnUpToDateTableDoesNotWaitForAReader) {
  auto conn = connect();
  CheckpointStore store("pgmorph", "dispatch");
  store.ensureSchema(conn);
  auto reader = connect();
  reader.exec("BEGIN");
  reader.exec("SELECT count(*) FROM pgmorph.checkpoint");
  conn.exec("SET lock_timeout = '2s'");
  EXPECT_NO_THROW(store.ensureSchema(conn));
  reader.exec("ROLLBACK");
}

}  // namespace pgmorph
