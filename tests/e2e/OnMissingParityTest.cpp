// End to end: `on_missing` means the same thing in the snapshot and in streaming, for `ref:`
// columns that NO target foreign key covers (the mapping is the contract, not the target's
// constraints). A schema of its own with bigint keys and no constraints on the legacy side:
//   shops.region_id  ref legacy_region, on_missing: null
//   owners.shop_id   ref legacy_shop,   on_missing: park
// The same rows reach one target through `pgmorph run` (snapshot) and another through `follow`
// (the slot created on empty tables first); both must equal the same projection, with the
// same parked entries. Then parents are deleted on the source and come back: the children's
// null references become NULL and are filled in again, parked children leave the target and
// come back — on both targets alike.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/ExampleConfig.h"
#include "tests/e2e/Poll.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNamespace = "5b1c7d2e-8f3a-4c6b-9d0e-1a2b3c4d5e6f";

struct Schema {
  const char* source;
  const char* target;
  const char* tables;  // the pipeline file's tables: section
  // (table, reference column, parent table) shown by projection()
  std::vector<std::array<const char*, 3>> links;
};

// Listed children first, so that an order by the file alone would copy them before parents.
constexpr const char* kSourceSchema =
    "CREATE TABLE legacy_owner (id bigint PRIMARY KEY, name text NOT NULL, shop_id bigint);"
    "CREATE TABLE legacy_shop (id bigint PRIMARY KEY, name text NOT NULL, region_id bigint);"
    "CREATE TABLE legacy_region (id bigint PRIMARY KEY, name text NOT NULL);";
constexpr const char* kTargetSchema =
    "CREATE TABLE owners (id uuid PRIMARY KEY, name text NOT NULL, shop_id uuid,"
    "  legacy_id bigint UNIQUE);"
    "CREATE TABLE shops (id uuid PRIMARY KEY, name text NOT NULL, region_id uuid,"
    "  legacy_id bigint UNIQUE);"
    "CREATE TABLE regions (id uuid PRIMARY KEY, name text NOT NULL, legacy_id bigint UNIQUE);";
const char* const kShopTables = R"(  legacy_owner:
    - target: owners
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        shop_id: { to: shop_id, ref: legacy_shop, on_missing: park }
  legacy_shop:
    - target: shops
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        region_id: { to: region_id, ref: legacy_region, on_missing: null }
  legacy_region:
    - target: regions
      key: id
      legacy_id: legacy_id
      columns:
        name: name
)";
const Schema kShops{kSourceSchema,
                    kTargetSchema,
                    kShopTables,
                    {{"shops", "region_id", "regions"}, {"owners", "shop_id", "shops"}}};

// Two tables that name each other, with no key anywhere: neither can be copied first.
const Schema kPairs{
    "CREATE TABLE legacy_a (id bigint PRIMARY KEY, name text NOT NULL, b_id bigint);"
    "CREATE TABLE legacy_b (id bigint PRIMARY KEY, name text NOT NULL, a_id bigint);",
    "CREATE TABLE a_rows (id uuid PRIMARY KEY, name text NOT NULL, b_id uuid,"
    "  legacy_id bigint UNIQUE);"
    "CREATE TABLE b_rows (id uuid PRIMARY KEY, name text NOT NULL, a_id uuid,"
    "  legacy_id bigint UNIQUE);",
    R"(  legacy_a:
    - target: a_rows
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        b_id: { to: b_id, ref: legacy_b, on_missing: null }
  legacy_b:
    - target: b_rows
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        a_id: { to: a_id, ref: legacy_a, on_missing: park }
)",
    {{"a_rows", "b_id", "b_rows"}, {"b_rows", "a_id", "a_rows"}}};

// Keys past 2^31: bigint all the way.
constexpr long long kBase = 5000000000LL;
// Shops 10, 11 in regions 1, 2; shop 12 in region 99 (absent); shop 13 in none.
// Owners 100, 101 of shops 10, 11; 102 of shop 77 (absent); 103 of shop 12.
const std::string kData = fmt::format(
    "INSERT INTO legacy_region VALUES ({0}+1, 'north'), ({0}+2, 'south');"
    "INSERT INTO legacy_shop VALUES ({0}+10, 'a', {0}+1), ({0}+11, 'b', {0}+2),"
    "  ({0}+12, 'c', {0}+99), ({0}+13, 'd', NULL);"
    "INSERT INTO legacy_owner VALUES ({0}+100, 'x', {0}+10), ({0}+101, 'y', {0}+11),"
    "  ({0}+102, 'z', {0}+77), ({0}+103, 'w', {0}+12);",
    kBase);

class OnMissingParityTest : public ::testing::Test {
 protected:
  struct Pipeline {
    std::string name, slot, sourceDb, targetDb, config, dir;
  };

  void SetUp() override {
    std::mt19937_64 rng{std::random_device{}()};
    suffix_ = fmt::format("{:x}", rng() & 0xffffffffffULL);
    workDir_ = std::string(::testing::TempDir()) + "pgmorph-onmissing-" + suffix_;
    std::filesystem::create_directories(workDir_);
  }
  void open(const Schema& schema) {
    schema_ = &schema;
    snap_ = make("snap");
    stream_ = make("strm");
  }

  Pipeline make(const std::string& kind) {
    Pipeline p;
    p.name = kind + "_" + suffix_;
    p.slot = "pgmorph_om_" + p.name;
    p.sourceDb = source().createDatabase("om_src");
    p.targetDb = target().createDatabase("om_tgt");
    p.dir = workDir_ + "/" + kind;
    std::filesystem::create_directories(p.dir);
    source().psql(p.sourceDb, schema_->source);
    target().psql(p.targetDb, schema_->target);
    p.config = p.dir + "/pipeline.yaml";
    writePipelineFile(p.config, fmt::format(
                                    R"(pipeline: om_{0}
source:
  conninfo: "{1}"
  slot: {2}
target:
  conninfo: "{3}"
  state_schema: pgmorph_om
ids:
  namespace: {4}
tables:
{5})",
                                    p.name, source().conninfo(p.sourceDb), p.slot,
                                    target().conninfo(p.targetDb), kNamespace, schema_->tables));
    pipelines_.push_back(p);
    return p;
  }

  void TearDown() override {
    for (const auto& p : pipelines_) {
      try {
        source().dropReplicationSlot(p.slot);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cannot drop slot " << p.slot << ": " << e.what();
      }
      source().dropDatabase(p.sourceDb);
      target().dropDatabase(p.targetDb);
    }
    std::error_code ec;
    std::filesystem::remove_all(workDir_, ec);
  }

  static test::PgCluster& source() { return test::sharedSource(); }
  static test::PgCluster& target() { return test::sharedTarget(); }

  // Runs pgmorph to the end; fails the test (with its log) unless it exits 0.
  void pgmorph(const Pipeline& p, std::vector<std::string> args) {
    args.insert(args.begin(), PGMORPH_BINARY);
    args.push_back("-c");
    args.push_back(p.config);
    ChildProcess child(args, p.dir + "/" + args[1] + std::to_string(++runs_));
    auto status = child.waitFor(120s);
    if (!status) child.kill9();
    ASSERT_TRUE(status && *status == 0)
        << child.commandLine() << " exited " << (status ? std::to_string(*status) : "late") << "\n"
        << child.stderrText();
  }
  void followBoth() {
    pgmorph(snap_, {"follow", "--until-caught-up"});
    pgmorph(stream_, {"follow", "--until-caught-up"});
  }
  void onBothSources(const std::string& sql) {
    source().psql(snap_.sourceDb, sql);
    source().psql(stream_.sourceDb, sql);
  }

  // The target through legacy keys, per link "table n->m ..." ("-" NULL, "dangling" a
  // reference to no row), then every parked entry as "kind table key".
  std::string projection(const Pipeline& p) {
    auto v = [&](const std::string& sql) { return target().scalar(p.targetDb, sql); };
    std::string out;
    for (const auto& [table, column, parent] : schema_->links)
      out += fmt::format(
          "{1} {4} | ", kBase, table, column, parent,
          v(fmt::format("SELECT coalesce(string_agg(format('%s->%s', c.legacy_id - {0}, CASE WHEN "
                        "c.{2} IS NULL THEN '-' WHEN p.id IS NULL THEN 'dangling' ELSE "
                        "(p.legacy_id - {0})::text END), ' ' ORDER BY c.legacy_id), '') FROM {1} c "
                        "LEFT JOIN {3} p ON p.id = c.{2}",
                        kBase, table, column, parent)));
    return out + "parked " +
           v(fmt::format("SELECT coalesce(string_agg(format('%s %s %s', kind, target_table, "
                         "legacy_key::bigint - {0}), ', ' ORDER BY kind, target_table, "
                         "legacy_key), '') FROM pgmorph_om.parked",
                         kBase));
  }
  void expectBoth(const std::string& expected) {
    EXPECT_EQ(projection(snap_), expected) << "through the snapshot";
    EXPECT_EQ(projection(stream_), expected) << "through the stream";
  }
  std::string key(long long n) { return std::to_string(kBase + n); }

  const Schema* schema_ = nullptr;
  std::string suffix_, workDir_;
  std::vector<Pipeline> pipelines_;
  Pipeline snap_, stream_;
  int runs_ = 0;
};

TEST_F(OnMissingParityTest, SnapshotAndStreamAgreeAndParentsThatGoAndComeBackAreFollowed) {
  open(kShops);
  // The same rows: copied by the snapshot into one target, streamed into the other.
  source().psql(snap_.sourceDb, kData);
  pgmorph(snap_, {"run", "--until-caught-up", "--jobs", "2"});
  pgmorph(stream_, {"run", "--until-caught-up"});
  source().psql(stream_.sourceDb, kData);
  pgmorph(stream_, {"follow", "--until-caught-up"});
  if (HasFatalFailure()) return;
  // Shop 12's region 99 is absent: NULL, and a reference to fill in. Owner 102's shop 77 is
  // absent: parked. Nothing dangles.
  expectBoth(
      "shops 10->1 11->2 12->- 13->- | owners 100->10 101->11 103->12 | parked missing_parent "
      "public.owners 102, null_reference public.shops 12");

  // Region 99 and shop 77 arrive: filled in, and the parked owner lands.
  onBothSources(
      fmt::format("INSERT INTO legacy_region VALUES ({}, 'far');"
                  "INSERT INTO legacy_shop VALUES ({}, 'e', NULL);",
                  key(99), key(77)));
  followBoth();
  expectBoth(
      "shops 10->1 11->2 12->99 13->- 77->- | owners 100->10 101->11 102->77 103->12 | parked ");

  // Parents deleted on a source without constraints: shop 10's region becomes NULL (and is
  // kept to fill in), owner 101 leaves the target for the parked table.
  onBothSources(
      fmt::format("DELETE FROM legacy_region WHERE id = {};"
                  "DELETE FROM legacy_shop WHERE id = {};",
                  key(1), key(11)));
  followBoth();
  expectBoth(
      "shops 10->- 12->99 13->- 77->- | owners 100->10 102->77 103->12 | parked missing_parent "
      "public.owners 101, null_reference public.shops 10");

  // They come back: everything as before the deletes.
  onBothSources(
      fmt::format("INSERT INTO legacy_region VALUES ({}, 'north again');"
                  "INSERT INTO legacy_shop VALUES ({}, 'b again', {});",
                  key(1), key(11), key(2)));
  followBoth();
  expectBoth(
      "shops 10->1 11->2 12->99 13->- 77->- | owners 100->10 101->11 102->77 103->12 | parked ");
}

TEST_F(OnMissingParityTest, TablesNamingEachOtherWithoutKeysAreCheckedOnceBothAreCopied) {
  open(kPairs);
  // a 1 <-> b 1; a 2 names b 99 (absent, null); b 2 names a 77 (absent, park); b 3 names a 2.
  std::string data = fmt::format(
      "INSERT INTO legacy_a VALUES ({0}+1, 'a1', {0}+1), ({0}+2, 'a2', {0}+99);"
      "INSERT INTO legacy_b VALUES ({0}+1, 'b1', {0}+1), ({0}+2, 'b2', {0}+77),"
      "  ({0}+3, 'b3', {0}+2);",
      kBase);
  source().psql(snap_.sourceDb, data);
  pgmorph(snap_, {"run", "--until-caught-up", "--jobs", "2"});
  pgmorph(stream_, {"run", "--until-caught-up"});
  source().psql(stream_.sourceDb, data);
  pgmorph(stream_, {"follow", "--until-caught-up"});
  if (HasFatalFailure()) return;
  expectBoth(
      "a_rows 1->1 2->- | b_rows 1->1 3->2 | parked missing_parent public.b_rows 2, "
      "null_reference public.a_rows 2");

  // The missing rows arrive; then a 1 goes, and b 1, which names it, is parked.
  onBothSources(
      fmt::format("INSERT INTO legacy_a VALUES ({0}+77, 'a77', NULL);"
                  "INSERT INTO legacy_b VALUES ({0}+99, 'b99', NULL);",
                  kBase));
  followBoth();
  expectBoth("a_rows 1->1 2->99 77->- | b_rows 1->1 2->77 3->2 99->- | parked ");
  onBothSources(fmt::format("DELETE FROM legacy_a WHERE id = {0}+1", kBase));
  followBoth();
  expectBoth(
      "a_rows 2->99 77->- | b_rows 2->77 3->2 99->- | parked missing_parent public.b_rows 1");
}

}  // namespace
}  // namespace pgmorph::e2e
