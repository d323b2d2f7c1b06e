// SourceShapeStore on a real target: absent before its table exists, a first shape without a
// previous one, a replacement that keeps the shape it replaced, names and types with commas
// and spaces kept exactly, and pipelines kept apart.
#include "state/SourceShapeStore.h"

#include <gtest/gtest.h>

#include "tests/support/SharedClusters.h"

namespace pgmorph {

class SourceShapeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = test::sharedTarget().createDatabase("shape"); }
  void TearDown() override { test::sharedTarget().dropDatabase(db_); }
  PgConnection connect() { return PgConnection(test::sharedTarget().conninfo(db_), "target"); }
  std::string db_;
};

TEST_F(SourceShapeStoreTest, RecordsAndReplacesTheAcceptedShapeKeepingThePreviousOne) {
  auto conn = connect();
  SourceShapeStore store("pgmorph", "p1");
  EXPECT_TRUE(store.load(conn).empty());  // no table yet: nothing accepted
  store.ensureSchema(conn);
  store.ensureSchema(conn);  // idempotent
  TableShape first{{{"id", "integer", false}, {"price", "numeric(12,2)", true}}};
  TableShape second{{{"id", "integer", false},
                     {"price", "numeric(12,2)", true},
                     {"Label, long", "character varying(20)", true}}};
  store.save(conn, "public", "item", first, std::nullopt);
  auto loaded = store.load(conn);
  ASSERT_EQ(loaded.count("public.item"), 1u);
  EXPECT_EQ(loaded["public.item"].shape, first);
  EXPECT_FALSE(loaded["public.item"].previous.has_value());

  store.save(conn, "public", "item", second, first);
  loaded = store.load(conn);
  EXPECT_EQ(loaded["public.item"].shape, second);
  ASSERT_TRUE(loaded["public.item"].previous.has_value());
  EXPECT_EQ(*loaded["public.item"].previous, first);

  EXPECT_TRUE(SourceShapeStore("pgmorph", "p2").load(conn).empty());
}

}  // namespace pgmorph
