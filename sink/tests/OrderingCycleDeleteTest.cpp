// Deleting (and re-pointing, re-keying) rows that reference each other, on a real target, for
// every referential action PostgreSQL has: a self-reference, and cycles of two and three
// tables. The source let these go in one transaction (its constraint deferrable); the target's
// may not be. Each case checks the rows left on the target; where a naive order (the source's,
// one statement each) is refused, the test shows that first, so that it cannot pass for
// lack of a circle.
#include "sink/tests/CycleFixture.h"

namespace pgmorph::cycletest {
namespace {

// One kind of constraint: how the column and the foreign key are declared.
struct Circle {
  const char* name;
  const char* notNull;      // "" or " NOT NULL"
  const char* clause;       // after REFERENCES ...
  bool sourceOrderRefused;  // deleting one row after another, each its own statement, fails
};

std::ostream& operator<<(std::ostream& os, const Circle& c) {
  return os << c.name;
}

const Circle kCircles[] = {
    {"NoAction", "", "", true},
    {"Restrict", "", " ON DELETE RESTRICT", true},
    {"RestrictDeclaredDeferrable", "", " ON DELETE RESTRICT DEFERRABLE", true},
    {"Deferrable", "", " DEFERRABLE", true},
    {"InitiallyDeferred", "", " DEFERRABLE INITIALLY DEFERRED", false},
    {"Cascade", "", " ON DELETE CASCADE", false},
    {"SetNull", "", " ON DELETE SET NULL", false},
};
// A NOT NULL self-reference can only be NO ACTION and go in one statement.
const Circle kNotNull = {"NotNullNoAction", " NOT NULL", "", true};

// --- a self-reference ---------------------------------------------------------------------

class SelfReferenceDeleteTest : public CycleFixture, public ::testing::WithParamInterface<Circle> {
 protected:
  void SetUp() override {
    const Circle& c = GetParam();
    open(fmt::format("CREATE TABLE person (id uuid PRIMARY KEY, referred_by uuid{} CONSTRAINT "
                     "person_referred_by REFERENCES person (id){}, name text NOT NULL)",
                     c.notNull, c.clause),
         {"person"});
    person_ = &plan("person", "referred_by");
  }
  // Rows n -> ref, inserted in one statement when the column is NOT NULL, else NULL first.
  void seedRows(std::initializer_list<std::pair<int, int>> rows) {
    std::string values, links;
    bool notNull = *GetParam().notNull != '\0';
    for (auto [n, ref] : rows) {
      if (!values.empty()) values += ", ";
      std::string r = ref ? id(ref) + "::uuid" : "NULL";
      values += fmt::format("({}, {}, 'row {}')", id(n), notNull ? r : "NULL", n);
      if (!notNull && ref)
        links += fmt::format("UPDATE person SET referred_by = {} WHERE id = {};", id(ref), id(n));
    }
    seed("BEGIN; INSERT INTO person VALUES " + values + ";" + links + "COMMIT;");
  }
  const WritePlan* person_ = nullptr;
};

TEST_P(SelfReferenceDeleteTest, TwoRowsNamingEachOtherAreDeletedFromTheTarget) {
  seedRows({{1, 2}, {2, 1}, {3, 3}});
  std::vector<TargetWrite> w;
  remove(w, *person_, 1);
  remove(w, *person_, 2);
  if (GetParam().sourceOrderRefused) {
    auto refused = applyInSourceOrder(w);
    ASSERT_TRUE(refused) << "one delete after the other was accepted: no circle tested";
    EXPECT_EQ(refused->sqlstate, "23503") << refused->message;
  }
  applyOrdered(w);
  EXPECT_EQ(links("person", "referred_by"), "3->3");
}

TEST_P(SelfReferenceDeleteTest, ACircleOfThreeAmongManyDeletesIsDeleted) {
  // 1 -> 2 -> 3 -> 1, and ten pairs 10+k <-> 30+k: a long run (one statement) and a circle.
  std::initializer_list<std::pair<int, int>> rows = {{1, 2}, {2, 3}, {3, 1}, {4, 4}};
  seedRows(rows);
  for (int k = 0; k < 10; ++k) {
    if (*GetParam().notNull)
      seed(fmt::format("INSERT INTO person VALUES ({}, {}, 'a'), ({}, {}, 'b')", id(10 + k),
                       id(30 + k), id(30 + k), id(10 + k)));
    else
      seed(
          fmt::format("BEGIN; INSERT INTO person VALUES ({0}, NULL, 'a'), ({1}, {0}, 'b');"
                      "UPDATE person SET referred_by = {1} WHERE id = {0}; COMMIT;",
                      id(10 + k), id(30 + k)));
  }
  std::vector<TargetWrite> w;
  remove(w, *person_, 3);
  for (int k = 0; k < 10; ++k) {
    remove(w, *person_, 10 + k);
    remove(w, *person_, 30 + k);
  }
  remove(w, *person_, 1);
  remove(w, *person_, 2);
  applyOrdered(w);
  EXPECT_EQ(links("person", "referred_by"), "4->4");
}

// Cases that upsert a new circle: write-then-fix needs a nullable reference (a NOT NULL
// circle cannot be inserted row by row in any order), so they run for the nullable kinds.
class SelfReferenceRewriteTest : public SelfReferenceDeleteTest {};

TEST_P(SelfReferenceRewriteTest, ACircleInsertedAndDeletedInOneBatchLeavesNothing) {
  seedRows({{3, 0}});
  std::vector<TargetWrite> w;
  upsert(w, *person_, 1, 2);
  upsert(w, *person_, 2, 1);
  upsert(w, *person_, 5, 3);
  remove(w, *person_, 1);
  remove(w, *person_, 2);
  applyOrdered(w);
  EXPECT_EQ(links("person", "referred_by"), "3->- 5->3");
}

TEST_P(SelfReferenceDeleteTest, OneMemberDeletedAndTheOtherRepointed) {
  seedRows({{1, 2}, {2, 1}, {3, 3}});
  std::vector<TargetWrite> w;
  // The source's order: the delete first (its constraint deferred), then the re-point.
  remove(w, *person_, 1);
  upsert(w, *person_, 2, 3);
  if (GetParam().sourceOrderRefused) {
    ASSERT_TRUE(applyInSourceOrder(w));
  }
  applyOrdered(w);
  EXPECT_EQ(links("person", "referred_by"), "2->3 3->3");
}

TEST_P(SelfReferenceRewriteTest, APrimaryKeyChangeInsideACircleMovesBothReferences) {
  // Row 1 becomes row 11: the old id is deleted, the new one upserted, and 2 re-pointed.
  seedRows({{1, 2}, {2, 1}});
  std::vector<TargetWrite> w;
  remove(w, *person_, 1);
  upsert(w, *person_, 11, 2);
  upsert(w, *person_, 2, 11);
  applyOrdered(w);
  EXPECT_EQ(links("person", "referred_by"), "2->11 11->2");
}

TEST_P(SelfReferenceRewriteTest, ReferencesSwappedInsideACircleThenAMemberDeleted) {
  seedRows({{1, 2}, {2, 1}, {3, 3}});
  std::vector<TargetWrite> w;
  upsert(w, *person_, 1, 3);
  upsert(w, *person_, 3, 1);
  remove(w, *person_, 2);
  applyOrdered(w);
  EXPECT_EQ(links("person", "referred_by"), "1->3 3->1");
}

INSTANTIATE_TEST_SUITE_P(EveryAction, SelfReferenceDeleteTest, ::testing::ValuesIn(kCircles),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(NotNull, SelfReferenceDeleteTest, ::testing::Values(kNotNull),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(EveryAction, SelfReferenceRewriteTest, ::testing::ValuesIn(kCircles),
                         [](const auto& info) { return std::string(info.param.name); });

// --- cycles of two and three tables ----------------------------------------------------------

class TableCycleDeleteTest : public CycleFixture, public ::testing::WithParamInterface<Circle> {
 protected:
  void SetUp() override {
    const char* clause = GetParam().clause;
    // a -> b -> a, and x -> y -> z -> x.
    open(
        fmt::format(
            "CREATE TABLE a (id uuid PRIMARY KEY, b_id uuid, name text);"
            "CREATE TABLE b (id uuid PRIMARY KEY, a_id uuid CONSTRAINT b_to_a REFERENCES a (id){0},"
            "  name text);"
            "ALTER TABLE a ADD CONSTRAINT a_to_b FOREIGN KEY (b_id) REFERENCES b (id){0};"
            "CREATE TABLE x (id uuid PRIMARY KEY, y_id uuid, name text);"
            "CREATE TABLE z (id uuid PRIMARY KEY, x_id uuid CONSTRAINT z_to_x REFERENCES x (id){0},"
            "  name text);"
            "CREATE TABLE y (id uuid PRIMARY KEY, z_id uuid CONSTRAINT y_to_z REFERENCES z (id){0},"
            "  name text);"
            "ALTER TABLE x ADD CONSTRAINT x_to_y FOREIGN KEY (y_id) REFERENCES y (id){0};",
            clause),
        {"a", "b", "x", "y", "z"});
    a_ = &plan("a", "b_id");
    b_ = &plan("b", "a_id");
    x_ = &plan("x", "y_id");
    y_ = &plan("y", "z_id");
    z_ = &plan("z", "x_id");
  }
  // a n <-> b n for each n.
  void seedPairs(std::initializer_list<int> ns) {
    std::string sql = "BEGIN;";
    for (int n : ns)
      sql += fmt::format(
          "INSERT INTO a VALUES ({0}, NULL, 'a'); INSERT INTO b VALUES ({0}, {0}, 'b');"
          "UPDATE a SET b_id = {0} WHERE id = {0};",
          id(n));
    seed(sql + "COMMIT;");
  }
  void seedTriangle(int n) {
    seed(fmt::format(
        "BEGIN; INSERT INTO x VALUES ({0}, NULL, 'x'); INSERT INTO z VALUES ({0}, {0}, 'z');"
        "INSERT INTO y VALUES ({0}, {0}, 'y'); UPDATE x SET y_id = {0} WHERE id = {0}; COMMIT;",
        id(n)));
  }
  const WritePlan *a_ = nullptr, *b_ = nullptr, *x_ = nullptr, *y_ = nullptr, *z_ = nullptr;
};

TEST_P(TableCycleDeleteTest, APairAcrossTwoTablesIsDeleted) {
  seedPairs({1, 2});
  std::vector<TargetWrite> w;
  remove(w, *a_, 1);
  remove(w, *b_, 1);
  if (GetParam().sourceOrderRefused) {
    auto refused = applyInSourceOrder(w);
    ASSERT_TRUE(refused) << "one delete after the other was accepted: no circle tested";
    EXPECT_EQ(refused->sqlstate, "23503") << refused->message;
  }
  applyOrdered(w);
  EXPECT_EQ(links("a", "b_id"), "2->2");
  EXPECT_EQ(links("b", "a_id"), "2->2");
}

TEST_P(TableCycleDeleteTest, ATriangleOfThreeTablesIsDeleted) {
  seedTriangle(1);
  seedTriangle(2);
  std::vector<TargetWrite> w;
  remove(w, *y_, 1);
  remove(w, *x_, 1);
  remove(w, *z_, 1);
  if (GetParam().sourceOrderRefused) {
    ASSERT_TRUE(applyInSourceOrder(w));
  }
  applyOrdered(w);
  EXPECT_EQ(links("x", "y_id"), "2->2");
  EXPECT_EQ(links("y", "z_id"), "2->2");
  EXPECT_EQ(links("z", "x_id"), "2->2");
}

TEST_P(TableCycleDeleteTest, APairInsertedAndDeletedInOneBatchLeavesNothing) {
  std::vector<TargetWrite> w;
  upsert(w, *a_, 1, 1);
  upsert(w, *b_, 1, 1);
  remove(w, *b_, 1);
  remove(w, *a_, 1);
  applyOrdered(w);
  EXPECT_EQ(links("a", "b_id"), "");
  EXPECT_EQ(links("b", "a_id"), "");
}

TEST_P(TableCycleDeleteTest, NewPairsAndTrianglesAreInsertedWhateverTheConstraint) {
  std::vector<TargetWrite> w;
  upsert(w, *a_, 1, 1);  // a 1 -> b 1, which comes next
  upsert(w, *b_, 1, 1);
  upsert(w, *b_, 2, 0);
  upsert(w, *a_, 2, 2);  // after its parent: no fix needed
  upsert(w, *x_, 1, 1);  // x 1 -> y 1 -> z 1 -> x 1
  upsert(w, *y_, 1, 1);
  upsert(w, *z_, 1, 1);
  if (std::string_view(GetParam().clause).find("INITIALLY DEFERRED") == std::string_view::npos) {
    ASSERT_TRUE(applyInSourceOrder(w)) << "the source's order was accepted: no circle tested";
  }
  applyOrdered(w);
  EXPECT_EQ(links("a", "b_id"), "1->1 2->2");
  EXPECT_EQ(links("b", "a_id"), "1->1 2->-");
  EXPECT_EQ(links("x", "y_id"), "1->1");
  EXPECT_EQ(links("y", "z_id"), "1->1");
  EXPECT_EQ(links("z", "x_id"), "1->1");
}

TEST_P(TableCycleDeleteTest, OneMemberDeletedAndTheOtherRepointed) {
  seedPairs({1, 2});
  std::vector<TargetWrite> w;
  remove(w, *a_, 1);
  upsert(w, *b_, 1, 2);  // b 1 now names a 2
  applyOrdered(w);
  EXPECT_EQ(links("a", "b_id"), "2->2");
  EXPECT_EQ(links("b", "a_id"), "1->2 2->2");
}

INSTANTIATE_TEST_SUITE_P(EveryAction, TableCycleDeleteTest, ::testing::ValuesIn(kCircles),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace pgmorph::cycletest
