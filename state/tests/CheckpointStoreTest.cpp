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

}  // namespace pgmorph
