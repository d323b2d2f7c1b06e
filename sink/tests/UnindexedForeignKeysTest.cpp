#include "sink/UnindexedForeignKeys.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/SharedClusters.h"

namespace pgmorph {

class UnindexedForeignKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("unindexed");
    test::sharedTarget().psqlFile(db_, test::sourceDir() + "/deploy/examples/dispatch/target.sql");
  }
  void TearDown() override { test::sharedTarget().dropDatabase(db_); }

  std::vector<std::string> namesOnto(const std::vector<std::string>& parents) {
    PgConnection conn(test::sharedTarget().conninfo(db_), "target");
    std::vector<std::string> out;
    for (const auto& fk : findUnindexedForeignKeys(conn, parents)) out.push_back(fk.constraint);
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string db_;
};

TEST_F(UnindexedForeignKeysTest, NamesTheForeignKeysOntoOrdersThatTargetSqlLeavesUnindexed) {
  // target.sql indexes no referencing column: each of the four children of orders is scanned
  // per deleted order.
  EXPECT_EQ(namesOnto({"public.orders"}),
            (std::vector<std::string>{"case_files_order_id_fkey", "jaws_order_id_fkey",
                                      "order_states_order_id_fkey", "payments_order_id_fkey"}));
  PgConnection conn(test::sharedTarget().conninfo(db_), "target");
  auto all = findUnindexedForeignKeys(conn, {"public.orders"});
  auto jaws = std::find_if(all.begin(), all.end(),
                           [](const auto& fk) { return fk.constraint == "jaws_order_id_fkey"; });
  ASSERT_NE(jaws, all.end());
  EXPECT_EQ(jaws->child, "jaws");
  EXPECT_EQ(jaws->parent, "orders");
  EXPECT_EQ(jaws->onDelete, "SET NULL");
  EXPECT_EQ(jaws->suggestedIndex(), "CREATE INDEX ON jaws (order_id)");
  EXPECT_NE(jaws->describe().find("jaws_order_id_fkey"), std::string::npos) << jaws->describe();
  // Tables nobody references, or not named, give nothing.
  EXPECT_TRUE(namesOnto({"public.system_messages", "public.no_such_table"}).empty());
}

TEST_F(UnindexedForeignKeysTest, AnIndexLeadingWithTheColumnsCoversItAPartialOrLaterOneDoesNot) {
  auto& t = test::sharedTarget();
  t.psql(db_,
         "CREATE INDEX ON jaws (order_id, jaw_type);"                   // leads: covers
         "CREATE INDEX ON case_files (order_id) WHERE size_bytes > 0;"  // partial: no
         "CREATE INDEX ON payments (paid_at, order_id);"                // not leading: no
         "CREATE TABLE \"Odd Child\" (id int, \"Order Ref\" uuid REFERENCES orders (id),"
         "  other uuid, FOREIGN KEY (other) REFERENCES orders (id));"
         "CREATE INDEX ON \"Odd Child\" (other);");
  EXPECT_EQ(namesOnto({"public.orders"}),
            (std::vector<std::string>{"Odd Child_Order Ref_fkey", "case_files_order_id_fkey",
                                      "order_states_order_id_fkey", "payments_order_id_fkey"}));
  PgConnection conn(test::sharedTarget().conninfo(db_), "target");
  for (const auto& fk : findUnindexedForeignKeys(conn, {"public.orders"})) {
    if (fk.constraint == "Odd Child_Order Ref_fkey") {
      EXPECT_EQ(fk.suggestedIndex(), "CREATE INDEX ON \"Odd Child\" (\"Order Ref\")");
    }
  }
}

}  // namespace pgmorph
