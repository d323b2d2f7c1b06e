// SchemaDrift: the classification of a change's or a catalog's columns against the accepted
// shape, and the on_schema_change decision, without a database.
#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "transform/SchemaDrift.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::Col;
using test::makeChange;
using test::num;
using test::str;

const std::string kMapping = R"(pipeline: p
source:
  conninfo: "host=x"
target:
  conninfo: "host=y"
ids:
  namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b
tables:
  item:
    - target: item
      key: id
      columns:
        name: name
        qty: qty
)";

class SchemaDriftTest : public ::testing::Test {
 protected:
  PipelineConfig config = test::load(kMapping);
  const TableMapping& item = config.tables.at(0);
  // id integer (plain), name text (toastable), qty integer (plain), note text (not mapped)
  TableShape shape{{{"id", "integer", false},
                    {"name", "text", true},
                    {"qty", "integer", false},
                    {"note", "text", true}}};

  Change insert(std::initializer_list<Col> cols) {
    return makeChange(ChangeKind::Insert, "item", cols);
  }
};

TEST_F(SchemaDriftTest, SameColumnsIsTheFastPathAndFindsNothing) {
  Change c = insert({num("id", "1"), str("name", "a"), num("qty", "2"), str("note", "n")});
  EXPECT_TRUE(SchemaDrift::sameColumns(shape, expectedKinds(shape), c));
  EXPECT_TRUE(SchemaDrift::ofChange(shape, c, item).empty());
}

TEST_F(SchemaDriftTest, AnAddedColumnIsNamedWithItsTypeAndWhetherItIsMapped) {
  Change c = insert(
      {num("id", "1"), str("name", "a"), num("qty", "2"), str("note", "n"), str("color", "red")});
  EXPECT_FALSE(SchemaDrift::sameColumns(shape, expectedKinds(shape), c));
  auto d = SchemaDrift::ofChange(shape, c, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Added);
  EXPECT_EQ(d[0].column, "color");
  EXPECT_EQ(d[0].newType, "text");
  EXPECT_FALSE(d[0].mapped);
  EXPECT_EQ(SchemaDrift::describe(d[0]), "column color (text) added, not mapped");
}

TEST_F(SchemaDriftTest, AMappedColumnMissingFromAnInsertIsDropped) {
  Change c = insert({num("id", "1"), str("name", "a"), str("note", "n")});
  auto d = SchemaDrift::ofChange(shape, c, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Dropped);
  EXPECT_EQ(d[0].column, "qty");
  EXPECT_TRUE(d[0].mapped);
  EXPECT_EQ(SchemaDrift::describe(d[0]), "mapped column qty (integer) disappeared");
}

TEST_F(SchemaDriftTest, AnUpdateWithoutAnUnchangedToastedValueIsNotADrop) {
  // wal2json leaves an unchanged TOASTed value out of an update (name, note: toastable).
  Change u =
      makeChange(ChangeKind::Update, "item", {num("id", "1"), num("qty", "3")}, {num("id", "1")});
  EXPECT_FALSE(SchemaDrift::sameColumns(shape, expectedKinds(shape), u));
  EXPECT_TRUE(SchemaDrift::ofChange(shape, u, item).empty());
  // A plain (fixed-width) column is always sent: missing, it is gone.
  Change gone =
      makeChange(ChangeKind::Update, "item", {num("id", "1"), str("name", "b")}, {num("id", "1")});
  auto d = SchemaDrift::ofChange(shape, gone, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Dropped);
  EXPECT_EQ(d[0].column, "qty");
}

TEST_F(SchemaDriftTest, ADeleteOnlyShowsItsKey) {
  Change del = makeChange(ChangeKind::Delete, "item", {}, {num("id", "1")});
  EXPECT_TRUE(SchemaDrift::sameColumns(shape, expectedKinds(shape), del));
  Change renamedKey = makeChange(ChangeKind::Delete, "item", {}, {num("item_id", "1")});
  auto d = SchemaDrift::ofChange(shape, renamedKey, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Added);
}

TEST_F(SchemaDriftTest, OneDroppedAndOneAddedReadAsARename) {
  Change c = insert({num("id", "1"), str("name", "a"), num("quantity", "2"), str("note", "n")});
  auto d = SchemaDrift::ofChange(shape, c, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Renamed);
  EXPECT_EQ(d[0].column, "qty");
  EXPECT_EQ(d[0].newColumn, "quantity");
  EXPECT_TRUE(d[0].mapped);
  EXPECT_FALSE(d[0].newMapped);
  EXPECT_EQ(SchemaDrift::describe(d[0]),
            "renamed? qty -> quantity (integer) (mapped column qty gone, quantity added)");
}

TEST_F(SchemaDriftTest, ATypeInTheChangeIsCompared) {
  // When a change carries types (wal2json's include-types), they are compared.
  Change typed = insert({num("id", "1"), str("name", "a"), str("qty", "2"), str("note", "n")});
  EXPECT_FALSE(SchemaDrift::sameColumns(shape, expectedKinds(shape), typed));
  auto d = SchemaDrift::ofChange(shape, typed, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Retyped);
  EXPECT_EQ(d[0].oldType, "integer");
  EXPECT_EQ(d[0].newType, "text");
  EXPECT_EQ(SchemaDrift::describe(d[0]), "mapped column qty retyped integer -> text");
}

TEST_F(SchemaDriftTest, WithoutTypesARetypeShowsInTheKindOfAValue) {
  // pgmorph asks wal2json for no types: an integer column whose value now comes as a string.
  Change untyped = insert({{"id", "1", ValueKind::Number, ""},
                           str("name", "a", ""),
                           str("qty", "two", ""),
                           str("note", "n", "")});
  EXPECT_FALSE(SchemaDrift::sameColumns(shape, expectedKinds(shape), untyped));
  auto d = SchemaDrift::ofChange(shape, untyped, item);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, DriftKind::Retyped);
  EXPECT_EQ(d[0].column, "qty");
  EXPECT_EQ(d[0].oldType, "integer");
  EXPECT_EQ(d[0].newType, "");  // the caller reads it from the catalog
  // NULLs and the expected kinds are no drift; a number in a text column is (text -> integer).
  Change same = insert({{"id", "7", ValueKind::Number, ""},
                        test::null("name"),
                        {"qty", "3", ValueKind::Number, ""},
                        str("note", "n", "")});
  EXPECT_TRUE(SchemaDrift::sameColumns(shape, expectedKinds(shape), same));
  Change textAsNumber = insert({{"id", "7", ValueKind::Number, ""},
                                {"name", "5", ValueKind::Number, ""},
                                {"qty", "3", ValueKind::Number, ""},
                                str("note", "n", "")});
  EXPECT_EQ(SchemaDrift::ofChange(shape, textAsNumber, item).at(0).column, "name");
}

TEST(ExpectedKind, FollowsWal2jsonsQuoting) {
  EXPECT_EQ(expectedKind("integer"), ExpectedKind::Number);
  EXPECT_EQ(expectedKind("numeric(12,2)"), ExpectedKind::Number);
  EXPECT_EQ(expectedKind("double precision"), ExpectedKind::Number);
  EXPECT_EQ(expectedKind("boolean"), ExpectedKind::Bool);
  EXPECT_EQ(expectedKind("character varying(20)"), ExpectedKind::String);
  EXPECT_EQ(expectedKind("timestamp without time zone"), ExpectedKind::String);
  EXPECT_EQ(expectedKind("integer[]"), ExpectedKind::String);
  EXPECT_EQ(expectedKind("my_domain"), ExpectedKind::Any);
}

TEST_F(SchemaDriftTest, WhileStreamingOnlyAnUnmappedAddedColumnUnderIgnoreNewColumnsPasses) {
  using M = SchemaDrift::Moment;
  auto addedColor = SchemaDrift::ofChange(shape,
                                          insert({num("id", "1"), str("name", "a"), num("qty", "2"),
                                                  str("note", "n"), str("color", "red")}),
                                          item);
  auto copy = addedColor;
  EXPECT_FALSE(SchemaDrift::decide(copy, SchemaChangePolicy::Stop, M::Streaming));
  copy = addedColor;
  EXPECT_TRUE(SchemaDrift::decide(copy, SchemaChangePolicy::IgnoreNewColumns, M::Streaming));
  // A dropped column stops under either policy, mapped or not.
  auto droppedNote = SchemaDrift::ofChange(
      shape, insert({num("id", "1"), str("name", "a"), num("qty", "2")}), item);
  ASSERT_EQ(droppedNote.size(), 1u);
  EXPECT_FALSE(droppedNote[0].mapped);
  EXPECT_FALSE(
      SchemaDrift::decide(droppedNote, SchemaChangePolicy::IgnoreNewColumns, M::Streaming));
}

TEST_F(SchemaDriftTest, AtAStartWhatTheMappingAccountsForIsAccepted) {
  using M = SchemaDrift::Moment;
  TableShape now{{{"id", "integer", false}, {"name", "text", true}, {"color", "text", true}}};
  // qty (mapped) gone, note (unmapped) gone, color added: two drops and an add, no rename.
  auto d = SchemaDrift::ofShapes(shape, now, item);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_FALSE(SchemaDrift::decide(d, SchemaChangePolicy::IgnoreNewColumns, M::Start));
  for (const auto& x : d) {
    // A mapped column that disappears is refused; the others are accounted for.
    EXPECT_EQ(x.accepted, x.column != "qty") << x.column;
  }
  // Under stop the unmapped new column is refused; mapped (the fix), it is accepted.
  auto stop = SchemaDrift::ofShapes(shape,
                                    TableShape{{{"id", "integer", false},
                                                {"name", "text", true},
                                                {"qty", "integer", false},
                                                {"note", "text", true},
                                                {"color", "text", true}}},
                                    item);
  EXPECT_FALSE(SchemaDrift::decide(stop, SchemaChangePolicy::Stop, M::Start));
  stop[0].mapped = true;
  EXPECT_TRUE(SchemaDrift::decide(stop, SchemaChangePolicy::Stop, M::Start));
  // A mapped retype passes only when the target takes the new type.
  auto retype = SchemaDrift::ofShapes(shape,
                                      TableShape{{{"id", "integer", false},
                                                  {"name", "text", true},
                                                  {"qty", "bigint", false},
                                                  {"note", "text", true}}},
                                      item);
  ASSERT_EQ(retype.size(), 1u);
  EXPECT_FALSE(SchemaDrift::decide(retype, SchemaChangePolicy::Stop, M::Start));
  retype[0].compatible = true;
  EXPECT_TRUE(SchemaDrift::decide(retype, SchemaChangePolicy::Stop, M::Start));
}

TEST_F(SchemaDriftTest, MappedColumnsAreKeysColumnsAndWhereColumns) {
  auto cols = mappedColumns(item);
  EXPECT_EQ(cols, (std::vector<std::string>{"id", "name", "qty"}));
}

TEST(SchemaChangePolicyConfig, StopByDefaultIgnoreNewColumnsOnRequest) {
  EXPECT_EQ(test::load(kMapping).onSchemaChange, SchemaChangePolicy::Stop);
  PipelineConfig ignore = test::load(kMapping + "on_schema_change: ignore_new_columns\n");
  EXPECT_EQ(ignore.onSchemaChange, SchemaChangePolicy::IgnoreNewColumns);
  EXPECT_EQ(ignore.onSchemaChangeLine, 15);
  try {
    test::load(kMapping + "on_schema_change: carry_on\n");
    FAIL() << "accepted on_schema_change: carry_on";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "mapping.yaml:15: on_schema_change: 'carry_on' is not a policy: expected stop or "
              "ignore_new_columns");
  }
}

}  // namespace
}  // namespace pgmorph
