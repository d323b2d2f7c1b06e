#include "sink/TargetCatalog.h"

#include <gtest/gtest.h>

#include "tests/support/SharedClusters.h"

namespace pgmorph {

class TargetCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("catalog");
    test::sharedTarget().psqlFile(db_, test::sourceDir() + "/deploy/examples/dispatch/target.sql");
  }
  void TearDown() override { test::sharedTarget().dropDatabase(db_); }
  std::string db_;
};

TEST_F(TargetCatalogTest, ReadsColumnsAndTheForeignKeyGraphOfTheDispatchTarget) {
  PgConnection conn(test::sharedTarget().conninfo(db_), "target");
  std::vector<std::string> tables = {"public.offices",         "public.profiles", "public.doctors",
                                     "public.patients",        "public.orders",   "public.jaws",
                                     "public.system_messages", "public.missing"};
  auto catalog = TargetCatalog::read(conn, tables);
  ASSERT_NE(catalog.table("public.orders"), nullptr);
  EXPECT_EQ(catalog.table("public.missing"), nullptr);
  const auto* country = catalog.table("public.offices")->find("country_code");
  ASSERT_NE(country, nullptr);
  EXPECT_EQ(country->type, "character(2)");
  EXPECT_TRUE(country->notNull);
  EXPECT_FALSE(catalog.table("public.offices")->find("address")->notNull);
  EXPECT_EQ(catalog.table("public.orders")->find("price")->type, "numeric(12,2)");

  const auto& g = catalog.graph();
  EXPECT_LT(g.rank("public.orders"), g.rank("public.jaws"));
  EXPECT_LT(g.rank("public.profiles"), g.rank("public.system_messages"));
  auto parents = g.parentsOf("public.doctors");
  ASSERT_EQ(parents.size(), 2u);
  bool sawProfile = false;
  for (const auto* fk : parents) {
    if (fk->parent == "public.profiles") {
      sawProfile = true;
      EXPECT_EQ(fk->childColumns, std::vector<std::string>{"profile_id"});
      EXPECT_EQ(fk->parentColumns, std::vector<std::string>{"id"});
      EXPECT_FALSE(fk->deferrable);
    }
  }
  EXPECT_TRUE(sawProfile);
}

TEST_F(TargetCatalogTest, SeesGeneratedColumnsDeferrableCyclesAndOddNames) {
  auto& t = test::sharedTarget();
  t.psql(db_,
         "CREATE SCHEMA \"Odd Schema\";"
         "CREATE TABLE \"Odd Schema\".\"A\" (id uuid PRIMARY KEY, b_id uuid,"
         "  total numeric, doubled numeric GENERATED ALWAYS AS (total * 2) STORED);"
         "CREATE TABLE \"Odd Schema\".\"B\" (id uuid PRIMARY KEY,"
         "  a_id uuid REFERENCES \"Odd Schema\".\"A\" (id) DEFERRABLE INITIALLY DEFERRED);"
         "ALTER TABLE \"Odd Schema\".\"A\" ADD CONSTRAINT a_to_b FOREIGN KEY (b_id)"
         "  REFERENCES \"Odd Schema\".\"B\" (id) DEFERRABLE;");
  PgConnection conn(t.conninfo(db_), "target");
  auto catalog = TargetCatalog::read(conn, {"Odd Schema.A", "Odd Schema.B"});
  const auto* a = catalog.table("Odd Schema.A");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->find("doubled")->generated);
  EXPECT_FALSE(a->find("total")->generated);
  ASSERT_EQ(catalog.graph().cycles().size(), 1u);
  const auto& cycle = catalog.graph().cycles()[0];
  EXPECT_TRUE(cycle.allDeferrable);
  ASSERT_EQ(cycle.constraints.size(), 2u);
  EXPECT_EQ(cycle.constraints[0], "B_a_id_fkey");
  EXPECT_EQ(cycle.constraints[1], "a_to_b");
}

}  // namespace pgmorph
