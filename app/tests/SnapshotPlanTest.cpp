// SnapshotPlan without a database: which tables wait for which (foreign keys, and `ref:`
// columns that no key covers), references that point at each other without keys (checked
// after the whole copy), and cycles of keys: copied in one transaction when deferrable or
// suspended by the bulk load, refused before anything moves otherwise.
#include "app/snapshot/SnapshotPlan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"

namespace pgmorph {
namespace {

PipelineConfig config(const std::string& tables, bool deferIndexes = true) {
  std::string yaml = std::string(R"(pipeline: plan
source: { conninfo: "dbname=src" }
target: { conninfo: "dbname=tgt" }
ids: { namespace: 5b1c7d2e-8f3a-4c6b-9d0e-1a2b3c4d5e6f }
snapshot: { defer_indexes: )") +
                     (deferIndexes ? "true" : "false") + " }\ntables:\n" + tables;
  return ConfigLoader::fromString(yaml, "plan.yaml",
                                  [](std::string_view) { return std::optional<std::string>(); });
}

TargetTable table(std::string name, std::vector<std::string> columns) {
  TargetTable t;
  t.schema = "public";
  t.name = std::move(name);
  for (auto& c : columns) t.columns.push_back(TargetColumn{c, c == "id" ? "uuid" : "uuid"});
  return t;
}

ForeignKey key(std::string name, std::string child, std::string column, std::string parent,
               bool deferrable = false) {
  return ForeignKey{std::move(name),
                    "public." + child,
                    {std::move(column)},
                    "public." + parent,
                    {"id"},
                    deferrable,
                    false};
}

// The target tables in the order their groups are copied, groups separated by " | ".
std::string order(const SnapshotPlan& plan) {
  std::string out;
  for (const auto& g : plan.groups()) {
    if (!out.empty()) out += " | ";
    std::string names;
    for (std::size_t t : g.tasks) {
      if (!names.empty()) names += " ";
      names += plan.tasks()[t].targetTable.substr(7);
    }
    out += names;
  }
  return out;
}

// Children listed first: without the waits, they would be copied first.
const char* kShops = R"(  legacy_owner:
    - { target: owners, key: id, columns: { shop_id: { to: shop_id, ref: legacy_shop } } }
  legacy_shop:
    - { target: shops, key: id, columns: { region_id: { to: region_id, ref: legacy_region, on_missing: null } } }
  legacy_region:
    - { target: regions, key: id, columns: { name: name } }
)";

TEST(SnapshotPlan, ATableWaitsForTheParentsOfItsRefsWithOrWithoutAKey) {
  auto tables = {table("owners", {"id", "shop_id"}), table("shops", {"id", "region_id"}),
                 table("regions", {"id", "name"})};
  // No keys at all: the refs alone order the copy.
  auto plan = SnapshotPlan::build(config(kShops), TargetCatalog::of(tables, {}));
  EXPECT_EQ(order(plan), "regions | shops | owners");
  EXPECT_TRUE(plan.lateChecks().empty());
  // A key on one of them: the same order.
  plan = SnapshotPlan::build(
      config(kShops),
      TargetCatalog::of(tables, {key("owners_shop", "owners", "shop_id", "shops")}));
  EXPECT_EQ(order(plan), "regions | shops | owners");
}

TEST(SnapshotPlan, RefsWithoutKeysThatPointAtEachOtherAreCheckedAfterTheCopy) {
  const char* pairs = R"(  legacy_a:
    - { target: a_rows, key: id, columns: { b_id: { to: b_id, ref: legacy_b, on_missing: null } } }
  legacy_b:
    - { target: b_rows, key: id, columns: { a_id: { to: a_id, ref: legacy_a } } }
)";
  auto plan = SnapshotPlan::build(
      config(pairs),
      TargetCatalog::of({table("a_rows", {"id", "b_id"}), table("b_rows", {"id", "a_id"})}, {}));
  // One of the two waits for the other; the reference that would close the circle is
  // left to the end.
  ASSERT_EQ(plan.groups().size(), 2u);
  ASSERT_EQ(plan.lateChecks().size(), 1u);
  const auto& [table, column] = plan.lateChecks()[0];
  std::string first = order(plan).substr(0, order(plan).find(' '));
  // The late reference is the one of the table copied first (its parent comes after it).
  EXPECT_EQ(table, "public." + first);
  EXPECT_EQ(column, first == "a_rows" ? "b_id" : "a_id");
  EXPECT_FALSE(plan.cycleNotes().empty());
}

const char* kTeams = R"(  legacy_team:
    - { target: teams, key: id, columns: { captain_id: { to: captain_id, ref: legacy_member } } }
  legacy_member:
    - { target: members, key: id, columns: { team_id: { to: team_id, ref: legacy_team } } }
)";

TEST(SnapshotPlan, ACycleOfKeysIsOneGroupWhenDeferrableOrSuspendedByTheBulkLoad) {
  auto tables = {table("teams", {"id", "captain_id"}), table("members", {"id", "team_id"})};
  for (bool deferrable : {true, false}) {
    auto plan = SnapshotPlan::build(
        config(kTeams),
        TargetCatalog::of(tables,
                          {key("teams_captain", "teams", "captain_id", "members", deferrable),
                           key("members_team", "members", "team_id", "teams", deferrable)}));
    ASSERT_EQ(plan.groups().size(), 1u) << deferrable;
    EXPECT_TRUE(plan.groups()[0].oneTransaction);
    EXPECT_TRUE(plan.lateChecks().empty());
    ASSERT_EQ(plan.cycleNotes().size(), 1u);
    EXPECT_EQ(plan.cycleNotes()[0].find("suspended by the bulk load") != std::string::npos,
              !deferrable)
        << plan.cycleNotes()[0];
  }
}

TEST(SnapshotPlan, ANonDeferrableCycleWithoutTheBulkLoadIsRefusedNamingTheKeys) {
  auto tables = {table("teams", {"id", "captain_id"}), table("members", {"id", "team_id"})};
  try {
    SnapshotPlan::build(
        config(kTeams, /*deferIndexes=*/false),
        TargetCatalog::of(
            tables, {key("teams_captain", "teams", "captain_id", "members"),
                     key("members_team", "members", "team_id", "teams", /*deferrable=*/true)}));
    FAIL() << "a cycle no order can load was accepted";
  } catch (const PgmorphError& e) {
    std::string what = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(what.find("ALTER TABLE public.teams ALTER CONSTRAINT teams_captain DEFERRABLE"),
              std::string::npos)
        << what;
    // The deferrable one needs nothing.
    EXPECT_EQ(what.find("ALTER CONSTRAINT members_team"), std::string::npos) << what;
    EXPECT_NE(what.find("defer_indexes"), std::string::npos) << what;
  }
}

TEST(SnapshotPlan, AMissingTargetTableIsRefusedByName) {
  try {
    SnapshotPlan::build(config(kShops), TargetCatalog::of({table("regions", {"id", "name"})}, {}));
    FAIL() << "a plan for tables that do not exist was accepted";
  } catch (const PgmorphError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("public.owners"), std::string::npos) << what;
    EXPECT_NE(what.find("public.shops"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace pgmorph
