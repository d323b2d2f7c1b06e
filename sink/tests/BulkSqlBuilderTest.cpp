// The SQL text of the multi-row statements, without a database: identifiers through the
// quoting function, every value a text array parameter cast to its column's type.
#include "sink/BulkSqlBuilder.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace pgmorph {
namespace {

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

class BulkSqlBuilderTest : public ::testing::Test {
 protected:
  BulkSqlBuilderTest() {
    source.targets.resize(2);
    source.targets[0].mode = TargetMode::Upsert;
    source.targets[1].mode = TargetMode::Update;
    orders.source = &source;
    orders.mapping = &source.targets[0];
    orders.targetSchema = "public";
    orders.targetTable = "orders";
    orders.idColumn = "id";
    orders.columns = {"id", "status", "price", "notes"};
    jaws.source = &source;
    jaws.mapping = &source.targets[1];
    jaws.targetSchema = "public";
    jaws.targetTable = "jaws";
    jaws.idColumn = "id";
    jaws.columns = {"order_id", "jaw_type"};
    jaws.ownerColumns = {"order_id", "jaw_type"};
  }
  BulkSqlBuilder ordersBuilder() {
    return BulkSqlBuilder(orders, {{"uuid", "text", "numeric", "text"}, {}, "uuid"}, quote);
  }
  BulkSqlBuilder jawsBuilder() {
    return BulkSqlBuilder(jaws, {{"uuid", "text"}, {"uuid", "text"}, "uuid"}, quote);
  }
  TableMapping source;
  WritePlan orders, jaws;
};

TEST_F(BulkSqlBuilderTest, UpsertOfAFullRowIsOneInsertFromUnnestOnConflictUpdate) {
  EXPECT_EQ(
      ordersBuilder().upsert(states({P, P, N, P})),
      "INSERT INTO \"public\".\"orders\" AS pgmorph_t (\"id\", \"status\", \"price\", "
      "\"notes\") SELECT pgmorph_v.c0::uuid AS c0, pgmorph_v.c1::text AS c1, "
      "pgmorph_v.c2::numeric AS c2, pgmorph_v.c3::text AS c3 FROM unnest($1::text[], "
      "$2::text[], $3::text[], $4::text[]) AS pgmorph_v(c0, c1, c2, c3) ON CONFLICT "
      "(\"id\") DO UPDATE SET \"status\" = EXCLUDED.\"status\", \"price\" = "
      "EXCLUDED.\"price\", \"notes\" = EXCLUDED.\"notes\" WHERE ((pgmorph_t.\"status\")::text "
      "COLLATE \"C\" IS DISTINCT FROM (EXCLUDED.\"status\")::text COLLATE \"C\" OR "
      "(pgmorph_t.\"price\")::text COLLATE \"C\" IS DISTINCT FROM (EXCLUDED.\"price\")::text "
      "COLLATE \"C\" OR (pgmorph_t.\"notes\")::text COLLATE \"C\" IS DISTINCT FROM "
      "(EXCLUDED.\"notes\")::text COLLATE \"C\")");
}

TEST_F(BulkSqlBuilderTest, InsertOfNewRowsHasNoConflictClauseAndFallsBackToUpsertWhenAbsent) {
  EXPECT_EQ(ordersBuilder().insert(states({P, P, N, P})),
            "INSERT INTO \"public\".\"orders\" (\"id\", \"status\", \"price\", \"notes\") SELECT "
            "pgmorph_v.c0::uuid AS c0, pgmorph_v.c1::text AS c1, pgmorph_v.c2::numeric AS c2, "
            "pgmorph_v.c3::text AS c3 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) "
            "AS pgmorph_v(c0, c1, c2, c3)");
  EXPECT_EQ(ordersBuilder().insert(states({P, P, P, A})),
            ordersBuilder().upsert(states({P, P, P, A})));
}

TEST_F(BulkSqlBuilderTest, UpsertWithAnAbsentColumnUpdatesWhatExistsAndInsertsTheRest) {
  EXPECT_EQ(ordersBuilder().upsert(states({P, P, P, A})),
            "WITH pgmorph_v AS (SELECT pgmorph_v.c0::uuid AS c0, pgmorph_v.c1::text AS c1, "
            "pgmorph_v.c2::numeric AS c2 FROM unnest($1::text[], $2::text[], $3::text[]) AS "
            "pgmorph_v(c0, c1, c2)), pgmorph_updated AS (UPDATE \"public\".\"orders\" AS "
            "pgmorph_t SET \"status\" = pgmorph_v.c1, \"price\" = pgmorph_v.c2 FROM pgmorph_v "
            "WHERE pgmorph_t.\"id\" = pgmorph_v.c0 RETURNING pgmorph_t.\"id\" AS id) INSERT INTO "
            "\"public\".\"orders\" (\"id\", \"status\", \"price\") SELECT c0, c1, c2 FROM "
            "pgmorph_v WHERE NOT EXISTS (SELECT FROM pgmorph_updated AS u WHERE u.id = "
            "pgmorph_v.c0)");
  // Nothing but the id: insert the missing rows, leave the others alone.
  EXPECT_EQ(ordersBuilder().upsert(states({P, A, A, A})),
            "WITH pgmorph_v AS (SELECT pgmorph_v.c0::uuid AS c0 FROM unnest($1::text[]) AS "
            "pgmorph_v(c0)) INSERT INTO \"public\".\"orders\" (\"id\") SELECT c0 FROM pgmorph_v "
            "WHERE NOT EXISTS (SELECT FROM \"public\".\"orders\" AS pgmorph_t WHERE "
            "pgmorph_t.\"id\" = pgmorph_v.c0)");
}

TEST_F(BulkSqlBuilderTest, DeleteTakesAnArrayOfIds) {
  EXPECT_EQ(ordersBuilder().remove(),
            "DELETE FROM \"public\".\"orders\" WHERE \"id\" = ANY($1::uuid[])");
}

TEST_F(BulkSqlBuilderTest, SetColumnsWritesOnlyPresentColumnsOfRowsThatChangeAndCountsMatches) {
  EXPECT_EQ(jawsBuilder().setColumns(states({P, A})),
            "WITH pgmorph_v AS (SELECT pgmorph_v.id::uuid AS id, pgmorph_v.c0::uuid AS c0 FROM "
            "unnest($1::text[], $2::text[]) AS pgmorph_v(id, c0)), pgmorph_m AS (SELECT "
            "pgmorph_v.*, (pgmorph_t.\"order_id\" IS DISTINCT FROM pgmorph_v.c0) AS "
            "pgmorph_differs FROM pgmorph_v JOIN \"public\".\"jaws\" AS pgmorph_t ON "
            "pgmorph_t.\"id\" = pgmorph_v.id), pgmorph_updated AS (UPDATE \"public\".\"jaws\" AS "
            "pgmorph_t SET \"order_id\" = pgmorph_m.c0 FROM pgmorph_m WHERE "
            "pgmorph_m.pgmorph_differs AND pgmorph_t.\"id\" = pgmorph_m.id AND "
            "(pgmorph_t.\"order_id\" IS DISTINCT FROM pgmorph_m.c0) RETURNING 1) SELECT (SELECT "
            "count(*) FROM pgmorph_m) AS matched, (SELECT count(*) FROM pgmorph_updated) AS "
            "updated");
  // A type whose equality is not identity (text under a nondeterministic collation, numeric
  // scale, jsonb) is compared by its text under "C": a different spelling is a change.
  EXPECT_EQ(jawsBuilder().setColumns(states({A, P})),
            "WITH pgmorph_v AS (SELECT pgmorph_v.id::uuid AS id, pgmorph_v.c1::text AS c1 FROM "
            "unnest($1::text[], $2::text[]) AS pgmorph_v(id, c1)), pgmorph_m AS (SELECT "
            "pgmorph_v.*, ((pgmorph_t.\"jaw_type\")::text COLLATE \"C\" IS DISTINCT FROM "
            "(pgmorph_v.c1)::text COLLATE \"C\") AS pgmorph_differs FROM pgmorph_v JOIN "
            "\"public\".\"jaws\" AS pgmorph_t ON pgmorph_t.\"id\" = pgmorph_v.id), "
            "pgmorph_updated AS (UPDATE \"public\".\"jaws\" AS pgmorph_t SET \"jaw_type\" = "
            "pgmorph_m.c1 FROM pgmorph_m WHERE pgmorph_m.pgmorph_differs AND pgmorph_t.\"id\" = "
            "pgmorph_m.id AND ((pgmorph_t.\"jaw_type\")::text COLLATE \"C\" IS DISTINCT FROM "
            "(pgmorph_m.c1)::text COLLATE \"C\") RETURNING 1) SELECT (SELECT count(*) FROM "
            "pgmorph_m) AS matched, (SELECT count(*) FROM pgmorph_updated) AS updated");
  EXPECT_NE(jawsBuilder()
                .setColumns(states({P, N}))
                .find("(pgmorph_t.\"order_id\" IS DISTINCT FROM pgmorph_v.c0 OR "
                      "(pgmorph_t.\"jaw_type\")::text COLLATE"),
            std::string::npos);
  EXPECT_THROW(jawsBuilder().setColumns(states({A, A})), std::invalid_argument);
}

TEST_F(BulkSqlBuilderTest, ReleaseMatchesOwnersAndKeepsTheNamedRowIfAny) {
  EXPECT_EQ(jawsBuilder().release(),
            "UPDATE \"public\".\"jaws\" AS pgmorph_t SET \"order_id\" = NULL, \"jaw_type\" = NULL "
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS pgmorph_v(o0, o1, keep) WHERE "
            "pgmorph_t.\"order_id\" = pgmorph_v.o0::uuid AND pgmorph_t.\"jaw_type\" = "
            "pgmorph_v.o1::text AND pgmorph_t.\"id\" IS DISTINCT FROM pgmorph_v.keep::uuid");
}

TEST_F(BulkSqlBuilderTest, RefusesTypesThatDoNotLineUpWithThePlan) {
  EXPECT_THROW(BulkSqlBuilder(orders, {{"uuid", "text"}, {}, "uuid"}, quote),
               std::invalid_argument);
  EXPECT_THROW(BulkSqlBuilder(jaws, {{"uuid", "text"}, {}, "uuid"}, quote), std::invalid_argument);
  EXPECT_THROW(BulkSqlBuilder(orders, {{"uuid", "text", "numeric", "text"}, {}, ""}, quote),
               std::invalid_argument);
  EXPECT_THROW(ordersBuilder().upsert(states({P, P})), std::invalid_argument);
  orders.columns = {"status", "id", "price", "notes"};
  EXPECT_THROW(BulkSqlBuilder(orders, {{"text", "uuid", "numeric", "text"}, {}, "uuid"}, quote),
               std::invalid_argument);
}

}  // namespace
}  // namespace pgmorph
