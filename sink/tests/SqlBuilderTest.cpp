// The SQL text of each WriteOp, without a database: exactly what WritePlan.h documents, every
// identifier through the quoting function, no value ever in the text.
#include "sink/BulkSqlBuilder.h"
#include "sink/SqlBuilder.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace pgmorph {
namespace {

// The server's rules for identifiers, as PQescapeIdentifier applies them.
std::string quote(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<WriteValue> states(std::initializer_list<ValueState> s) {
  std::vector<WriteValue> out;
  for (auto state : s) out.push_back({{}, state});
  return out;
}

constexpr auto P = ValueState::Present;
constexpr auto N = ValueState::Null;
constexpr auto A = ValueState::Absent;

class SqlBuilderTest : public ::testing::Test {
 protected:
  SqlBuilderTest() {
    source.sourceTable = "dispatch_instruction";
    source.targets.resize(2);
    source.targets[0].mode = TargetMode::Upsert;
    source.targets[1].mode = TargetMode::Update;
    orders.source = &source;
    orders.mapping = &source.targets[0];
    orders.targetSchema = "public";
    orders.targetTable = "orders";
    orders.idColumn = "id";
    orders.columns = {"id", "legacy_instruction_id", "status", "notes"};
    jaws.source = &source;
    jaws.mapping = &source.targets[1];
    jaws.targetSchema = "public";
    jaws.targetTable = "jaws";
    jaws.idColumn = "id";
    jaws.columns = {"order_id", "jaw_type"};
    jaws.ownerColumns = {"order_id", "jaw_type"};
    jaws.constantOwners = {{"jaw_type", "upper"}};
  }
  TableMapping source;
  WritePlan orders, jaws;
};

TEST_F(SqlBuilderTest, UpsertWritesEveryPresentColumnAndUpdatesAllButTheId) {
  SqlBuilder b(orders, quote);
  EXPECT_EQ(b.upsert(states({P, P, N, P})),
            R"(INSERT INTO "public"."orders" ("id", "legacy_instruction_id", "status", "notes"))"
            R"( VALUES ($1, $2, $3, $4) ON CONFLICT ("id") DO UPDATE SET)"
            R"( "legacy_instruction_id" = EXCLUDED."legacy_instruction_id",)"
            R"( "status" = EXCLUDED."status", "notes" = EXCLUDED."notes")");
}

// The legacy id column holds the same value for one id: left out of DO UPDATE SET, so that the
// conflict locks the row FOR NO KEY UPDATE (a SET naming a unique column locks FOR UPDATE, which
// waits for any other session's foreign-key check of a child row).
TEST_F(SqlBuilderTest, UpsertLeavesTheLegacyIdColumnOutOfItsUpdate) {
  source.targets[0].legacyIdColumn = "legacy_instruction_id";
  SqlBuilder b(orders, quote);
  EXPECT_EQ(b.upsert(states({P, P, N, P})),
            R"(INSERT INTO "public"."orders" ("id", "legacy_instruction_id", "status", "notes"))"
            R"( VALUES ($1, $2, $3, $4) ON CONFLICT ("id") DO UPDATE SET)"
            R"( "status" = EXCLUDED."status", "notes" = EXCLUDED."notes")");
  BulkSqlBuilder bulk(orders, {{"uuid", "integer", "smallint", "text"}, {}, "uuid"}, quote);
  EXPECT_EQ(bulk.upsert(states({P, P, N, P})).find("\"legacy_instruction_id\" = EXCLUDED"),
            std::string::npos);
  // Alone with the id, it stays: DO NOTHING would report no row touched.
  orders.columns = {"id", "legacy_instruction_id"};
  EXPECT_EQ(SqlBuilder(orders, quote).upsert(states({P, P})),
            R"(INSERT INTO "public"."orders" ("id", "legacy_instruction_id") VALUES ($1, $2))"
            R"( ON CONFLICT ("id") DO UPDATE SET)"
            R"( "legacy_instruction_id" = EXCLUDED."legacy_instruction_id")");
}

TEST_F(SqlBuilderTest, UpsertWithAnAbsentColumnUpdatesOrInsertsWithoutIt) {
  SqlBuilder b(orders, quote);
  EXPECT_EQ(
      b.upsert(states({P, P, N, A})),
      R"(WITH updated AS (UPDATE "public"."orders" SET "legacy_instruction_id" = $2,)"
      R"( "status" = $3 WHERE "id" = $1 RETURNING 1),)"
      R"( inserted AS (INSERT INTO "public"."orders" ("id", "legacy_instruction_id", "status"))"
      R"( SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT FROM updated) RETURNING 1))"
      R"( SELECT 1 FROM updated UNION ALL SELECT 1 FROM inserted)");
  // The id slot's own state does not matter: the id is always $1 (from the write's row).
  EXPECT_EQ(b.upsert(states({A, A, P, A})),
            R"(WITH updated AS (UPDATE "public"."orders" SET "status" = $2 WHERE "id" = $1)"
            R"( RETURNING 1), inserted AS (INSERT INTO "public"."orders" ("id", "status"))"
            R"( SELECT $1, $2 WHERE NOT EXISTS (SELECT FROM updated) RETURNING 1))"
            R"( SELECT 1 FROM updated UNION ALL SELECT 1 FROM inserted)");
}

TEST_F(SqlBuilderTest, UpsertWithEveryNonIdColumnAbsentOnlyInsertsAMissingRow) {
  SqlBuilder b(orders, quote);
  EXPECT_EQ(b.upsert(states({P, A, A, A})),
            R"(WITH found AS (SELECT 1 FROM "public"."orders" WHERE "id" = $1),)"
            R"( inserted AS (INSERT INTO "public"."orders" ("id") SELECT $1)"
            R"( WHERE NOT EXISTS (SELECT FROM found) RETURNING 1) SELECT 1 FROM inserted)");
  orders.columns = {"id"};
  EXPECT_EQ(SqlBuilder(orders, quote).upsert(states({P})),
            R"(INSERT INTO "public"."orders" ("id") VALUES ($1) ON CONFLICT ("id") DO NOTHING)");
}

TEST_F(SqlBuilderTest, DeleteIsById) {
  EXPECT_EQ(SqlBuilder(orders, quote).remove(), R"(DELETE FROM "public"."orders" WHERE "id" = $1)");
}

TEST_F(SqlBuilderTest, SetColumnsUpdatesThePresentColumnsOfTheNamedRow) {
  SqlBuilder b(jaws, quote);
  EXPECT_EQ(b.setColumns(states({P, N})),
            R"(UPDATE "public"."jaws" SET "order_id" = $1, "jaw_type" = $2 WHERE "id" = $3)");
  EXPECT_EQ(b.setColumns(states({A, P})),
            R"(UPDATE "public"."jaws" SET "jaw_type" = $1 WHERE "id" = $2)");
  // Nothing to write still checks that the row exists (a missing row is an error).
  EXPECT_EQ(b.setColumns(states({A, A})), R"(SELECT FROM "public"."jaws" WHERE "id" = $1)");
}

TEST_F(SqlBuilderTest, ReleaseClearsTheColumnsOfRowsStillOwnedAndCanKeepOneRow) {
  SqlBuilder b(jaws, quote);
  EXPECT_EQ(b.release(false), R"(UPDATE "public"."jaws" SET "order_id" = NULL, "jaw_type" = NULL)"
                              R"( WHERE "order_id" = $1 AND "jaw_type" = $2)");
  EXPECT_EQ(b.release(true), R"(UPDATE "public"."jaws" SET "order_id" = NULL, "jaw_type" = NULL)"
                             R"( WHERE "order_id" = $1 AND "jaw_type" = $2 AND "id" <> $3)");
}

TEST_F(SqlBuilderTest, TruncateDeletesAnUpsertTargetAndReleasesAPartialOne) {
  EXPECT_EQ(SqlBuilder(orders, quote).truncate(), R"(DELETE FROM "public"."orders")");
  EXPECT_EQ(SqlBuilder(jaws, quote).truncate(),
            R"(UPDATE "public"."jaws" SET "order_id" = NULL, "jaw_type" = NULL)"
            R"( WHERE "jaw_type" = $1)");
  jaws.constantOwners.clear();
  EXPECT_EQ(SqlBuilder(jaws, quote).truncate(),
            R"(UPDATE "public"."jaws" SET "order_id" = NULL, "jaw_type" = NULL)"
            R"( WHERE "order_id" IS NOT NULL OR "jaw_type" IS NOT NULL)");
}

TEST_F(SqlBuilderTest, EveryIdentifierGoesThroughTheQuotingFunction) {
  orders.targetSchema = "Odd \"Schema\"";
  orders.targetTable = "t; DROP TABLE x";
  orders.idColumn = "ID";
  orders.columns = {"ID", "na\"me"};
  SqlBuilder b(orders, quote);
  EXPECT_EQ(b.upsert(states({P, P})),
            R"(INSERT INTO "Odd ""Schema"""."t; DROP TABLE x" ("ID", "na""me") VALUES ($1, $2))"
            R"( ON CONFLICT ("ID") DO UPDATE SET "na""me" = EXCLUDED."na""me")");
  EXPECT_EQ(b.remove(), R"(DELETE FROM "Odd ""Schema"""."t; DROP TABLE x" WHERE "ID" = $1)");
}

TEST_F(SqlBuilderTest, KindOfTargetComesFromTheMappingOrElseFromOwnerColumns) {
  EXPECT_TRUE(SqlBuilder::isUpsertTarget(orders));
  EXPECT_FALSE(SqlBuilder::isUpsertTarget(jaws));
  orders.mapping = nullptr;
  jaws.mapping = nullptr;
  EXPECT_TRUE(SqlBuilder::isUpsertTarget(orders));
  EXPECT_FALSE(SqlBuilder::isUpsertTarget(jaws));
}

TEST_F(SqlBuilderTest, RefusesPlansAndWritesThatBreakTheLayout) {
  orders.columns = {"legacy_instruction_id", "id"};  // the id must come first
  EXPECT_THROW(SqlBuilder(orders, quote), std::invalid_argument);
  orders.columns = {"id", "status"};
  SqlBuilder b(orders, quote);
  EXPECT_THROW(b.upsert(states({P, P, P})), std::invalid_argument);  // one value too many
  EXPECT_THROW(SqlBuilder(jaws, quote).setColumns(states({P})), std::invalid_argument);
  orders.targetTable.clear();
  EXPECT_THROW(SqlBuilder(orders, quote), std::invalid_argument);
}

}  // namespace
}  // namespace pgmorph
