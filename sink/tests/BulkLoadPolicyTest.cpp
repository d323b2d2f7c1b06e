// The bulk load's policy for the dispatch example (mapping.yaml onto target.sql in a real
// PostgreSQL 15): every primary key, every legacy_* unique key and every foreign key the
// mapping writes from a ref: is suspended; a unique key on a business column and a foreign
// key on a column no ref: writes stay in place (and so does the key the latter needs).
#include "sink/BulkLoadPolicy.h"

#include <gtest/gtest.h>

#include <set>

#include "sink/IndexSuspender.h"
#include "tests/support/SharedClusters.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

const std::vector<std::string> kTables = {
    "public.offices",  "public.profiles",    "public.doctors",     "public.patients",
    "public.orders",   "public.jaws",        "public.case_files",  "public.system_messages",
    "public.payments", "public.case_states", "public.order_states"};

TEST(BulkLoadPolicyTest, TheExampleMappingVouchesForIdsLegacyKeysAndRefs) {
  SuspendPolicy p = bulkLoadPolicy(test::loadDispatch());
  for (const auto& t : kTables) {
    EXPECT_TRUE(p.uniqueCannotRefuse(t, {"id"})) << t;
    EXPECT_FALSE(p.uniqueCannotRefuse(t, {})) << t;  // expressions or predicate
  }
  EXPECT_TRUE(p.uniqueCannotRefuse("public.profiles", {"legacy_user_id"}));
  EXPECT_TRUE(p.uniqueCannotRefuse("public.jaws", {"legacy_jaw_id"}));
  EXPECT_FALSE(p.uniqueCannotRefuse("public.profiles", {"email"}));
  EXPECT_FALSE(p.uniqueCannotRefuse("public.profiles", {"legacy_user_id", "email"}));
  // jaws.order_id: the jaws' own mapping leaves it alone, both partial targets write it from
  // a ref onto dispatch_instruction, whose rows are orders.
  EXPECT_TRUE(p.foreignKeyCovered("public.jaws", {"order_id"}, "public.orders", {"id"}));
  EXPECT_TRUE(p.foreignKeyCovered("public.profiles", {"office_id"}, "public.offices", {"id"}));
  EXPECT_FALSE(p.foreignKeyCovered("public.profiles", {"office_id"}, "public.doctors", {"id"}));
  EXPECT_FALSE(p.foreignKeyCovered("public.profiles", {"email"}, "public.offices", {"id"}));
  // jaw_type is a constant (`set:`), the legacy key a source column.
  EXPECT_FALSE(p.foreignKeyCovered("public.jaws", {"jaw_type"}, "public.orders", {"id"}));
  EXPECT_FALSE(
      p.foreignKeyCovered("public.offices", {"legacy_office_id"}, "public.offices", {"id"}));
}

TEST(BulkLoadPolicyTest, TwoSourceTablesFillingOneTargetMayShareALegacyKey) {
  std::string yaml = test::dispatchMappingText();
  std::string anchor = "  dispatch_jaw:\n";
  auto at = yaml.find(anchor);
  ASSERT_NE(at, std::string::npos);
  yaml.insert(at,
              "  dispatch_office_archive:\n"
              "    - target: offices\n"
              "      key: id\n"
              "      legacy_id: legacy_office_id\n"
              "      columns:\n"
              "        name: name\n");
  SuspendPolicy p = bulkLoadPolicy(test::load(yaml));
  EXPECT_TRUE(p.uniqueCannotRefuse("public.offices", {"id"}));
  EXPECT_FALSE(p.uniqueCannotRefuse("public.offices", {"legacy_office_id"}));
  EXPECT_TRUE(p.uniqueCannotRefuse("public.profiles", {"legacy_user_id"}));
}

TEST(BulkLoadPolicyTest, OnTheExampleTargetOnlyWhatCanRefuseARowStaysInPlace) {
  std::string db = test::sharedTarget().createDatabase("bulkpolicy");
  test::sharedTarget().psqlFile(db, test::sourceDir() + "/deploy/examples/dispatch/target.sql");
  {
    PgConnection conn(test::sharedTarget().conninfo(db), "target");
    conn.exec(
        "CREATE UNIQUE INDEX profiles_email_key ON profiles (email);"
        "ALTER TABLE case_files ADD COLUMN reviewed_by uuid"
        "  CONSTRAINT case_files_reviewed_by_fkey REFERENCES doctors (id);");
    SuspendedDdlStore store("pgmorph", "p");
    store.ensureSchema(conn);
    auto present = [&] {
      std::set<std::string> out;
      auto r = conn.exec(
          "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
          " UNION ALL SELECT conname FROM pg_constraint"
          "  WHERE connamespace = 'public'::regnamespace AND contype = 'f'");
      for (int i = 0; i < r.rows(); ++i) out.emplace(r.value(i, 0));
      return out;
    };
    auto before = present();
    conn.exec("BEGIN");
    IndexSuspender(store).suspend(conn, kTables, bulkLoadPolicy(test::loadDispatch()));
    conn.exec("COMMIT");
    auto during = present();
    EXPECT_EQ(during, (std::set<std::string>{"profiles_email_key", "case_files_reviewed_by_fkey",
                                             "doctors_pkey"}));
    for (const auto& name : before) {
      bool pkOrLegacyOrFk = name.ends_with("_pkey") || name.find("_legacy_") != std::string::npos ||
                            name.ends_with("_fkey");
      EXPECT_TRUE(pkOrLegacyOrFk || during.count(name)) << name;
    }
  }
  test::sharedTarget().dropDatabase(db);
}

}  // namespace
}  // namespace pgmorph
