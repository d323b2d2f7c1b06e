// WriteKeys: which target rows a batch touches, and when a later batch must not run beside an
// earlier one still in flight. Plans and writes are built by hand; one test per rule of
// WriteKeys.h, and the cases each rule must leave alone.
#include "transform/WriteKeys.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <initializer_list>
#include <string>
#include <vector>

#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {
namespace {

Uuid id(int n) {
  char text[37];
  std::snprintf(text, sizeof text, "00000000-0000-0000-0000-%012d", n);
  return Uuid::parse(text);
}

const std::function<bool(const Uuid&)> kNothingKnown = [](const Uuid&) { return false; };
const std::function<bool(const Uuid&)> kAllKnown = [](const Uuid&) { return true; };

class WriteKeysTest : public ::testing::Test {
 protected:
  WriteKeysTest() {
    offices = &plan("offices", {"id", "legacy_office_id", "name"}, {"", "", ""});
    orders = &plan("orders", {"id", "legacy_order_id", "office_id", "status"},
                   {"", "", "legacy_office", ""});
    // Partial targets of one table: the instruction fills its upper (or lower) half, and names
    // the order it belongs to; the instruction's key says which rows it filled.
    upper = &plan("jaws", {"upper_instruction_id", "upper_scan", "order_id"},
                  {"", "", "legacy_order"}, {"upper_instruction_id"});
    lower =
        &plan("jaws", {"lower_instruction_id", "lower_scan"}, {"", ""}, {"lower_instruction_id"});
    // The same owner values on another table.
    notes = &plan("notes", {"upper_instruction_id", "text"}, {"", ""}, {"upper_instruction_id"});
  }

  WritePlan& plan(const std::string& table, std::vector<std::string> columns,
                  std::vector<std::string> refTables, std::vector<std::string> owners = {}) {
    WritePlan& p = plans.emplace_back();
    p.targetSchema = "public";
    p.targetTable = table;
    p.idColumn = "id";
    p.columns = std::move(columns);
    p.refTables = std::move(refTables);
    p.ownerColumns = std::move(owners);
    return p;
  }

  // Values: text, "~" for NULL, "-" for absent. An Upsert's id value is added from `row`.
  TargetWrite write(WriteOp op, const WritePlan* p, int row,
                    std::initializer_list<std::string> values = {}) {
    TargetWrite w;
    w.op = op;
    w.plan = p;
    w.row = id(row);
    if (op == WriteOp::Upsert) w.addValue(w.row.str());
    for (const auto& v : values) {
      if (v == "~")
        w.addNull();
      else if (v == "-")
        w.addAbsent();
      else
        w.addValue(v);
    }
    return w;
  }
  TargetWrite upsertOffice(int row) { return write(WriteOp::Upsert, offices, row, {"1", "HQ"}); }
  TargetWrite upsertOrder(int row, int office) {
    return write(WriteOp::Upsert, orders, row, {"7", id(office).str(), "new"});
  }
  TargetWrite remove(const WritePlan* p, int row) { return write(WriteOp::Delete, p, row); }
  TargetWrite fillUpper(int row, const std::string& instruction, int order) {
    return write(WriteOp::SetColumns, upper, row, {instruction, "scan.stl", id(order).str()});
  }
  TargetWrite release(const WritePlan* p, const std::string& owner) {
    TargetWrite w = write(WriteOp::Release, p, 0, {owner});
    w.hasRow = false;
    return w;
  }

  static WriteKeys keys(std::initializer_list<TargetWrite> writes) {
    std::vector<TargetWrite> v(writes);
    WriteKeys k;
    k.add(v);
    return k;
  }

  std::deque<WritePlan> plans;
  WritePlan *offices, *orders, *upper, *lower, *notes;
};

TEST_F(WriteKeysTest, BatchesOnDifferentRowsWithNothingInCommonDoNotConflict) {
  WriteKeys a = keys({upsertOffice(1), upsertOrder(10, 1)});
  WriteKeys b = keys({upsertOffice(2), remove(orders, 11)});
  EXPECT_FALSE(a.conflicts(b, kNothingKnown));
  EXPECT_FALSE(b.conflicts(a, kNothingKnown));
  EXPECT_EQ(a.size(), 3u);  // rows 1 and 10, ref 1
}

TEST_F(WriteKeysTest, Rule2_BothWritingOneRowConflicts) {
  EXPECT_TRUE(keys({upsertOffice(1)}).conflicts(keys({upsertOffice(1)}), kAllKnown));
  // Any mix of Upsert, Delete and SetColumns on one id.
  EXPECT_TRUE(keys({remove(upper, 5)}).conflicts(keys({fillUpper(5, "42", 10)}), kAllKnown));
  EXPECT_TRUE(keys({fillUpper(5, "42", 10)}).conflicts(keys({remove(upper, 5)}), kAllKnown));
}

TEST_F(WriteKeysTest, Rule3_DeletingARowTheOtherReferencesConflictsEvenWhenKnownPresent) {
  // The earlier batch deletes the office the later batch's order references.
  EXPECT_TRUE(keys({remove(offices, 1)}).conflicts(keys({upsertOrder(10, 1)}), kAllKnown));
  // The later batch deletes the order the earlier batch's jaw half references.
  EXPECT_TRUE(keys({fillUpper(5, "42", 10)}).conflicts(keys({remove(orders, 10)}), kAllKnown));
  // A delete of a row nobody references is no concern.
  EXPECT_FALSE(keys({remove(offices, 2)}).conflicts(keys({upsertOrder(10, 1)}), kAllKnown));
}

TEST_F(WriteKeysTest, TwoBatchesReferencingOneParentDoNotConflict) {
  EXPECT_FALSE(keys({upsertOrder(10, 1)}).conflicts(keys({upsertOrder(11, 1)}), kNothingKnown));
  EXPECT_FALSE(
      keys({fillUpper(5, "42", 10)}).conflicts(keys({fillUpper(6, "43", 10)}), kNothingKnown));
}

TEST_F(WriteKeysTest, Rule4_UpsertingAParentTheOtherReferencesConflictsUnlessKnownPresent) {
  WriteKeys parent = keys({upsertOffice(1)});
  WriteKeys child = keys({upsertOrder(10, 1)});
  // The office may be new in the earlier batch: the later's reference would not see it.
  EXPECT_TRUE(parent.conflicts(child, kNothingKnown));
  // And the mirror: the later batch may create the office the earlier one references.
  EXPECT_TRUE(child.conflicts(parent, kNothingKnown));
  // Known to be on the target: the upsert only updates it, the reference does not wait.
  EXPECT_FALSE(parent.conflicts(child, kAllKnown));
  EXPECT_FALSE(child.conflicts(parent, kAllKnown));
  // The caller is asked about that id, not some other one.
  auto onlyOffice2 = [](const Uuid& u) { return u == id(2); };
  EXPECT_TRUE(parent.conflicts(child, onlyOffice2));
  // No knowledge at all (an empty function) is the safe answer.
  EXPECT_TRUE(parent.conflicts(child, {}));
}

// What rule 4 alone holds on, with the plan that upserts it, so the caller can look it up.
TEST_F(WriteKeysTest, UnknownUpsertsNameTheParentsRule4HoldsOnWithTheirPlan) {
  WriteKeys parent = keys({upsertOffice(1), upsertOffice(2)});
  WriteKeys child = keys({upsertOrder(10, 1), upsertOrder(20, 3)});
  std::vector<std::pair<Uuid, const WritePlan*>> out;
  parent.unknownUpserts(child, kNothingKnown, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, id(1));
  EXPECT_EQ(out[0].second->targetTable, "offices");
  out.clear();
  child.unknownUpserts(parent, kNothingKnown, out);  // the mirror
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, id(1));
  out.clear();
  parent.unknownUpserts(child, kAllKnown, out);
  EXPECT_TRUE(out.empty());
}

TEST_F(WriteKeysTest, Rule5_ReleaseAndSetColumnsOfOneOwnerConflict) {
  // The earlier batch releases the rows instruction 42 filled; the later fills one for it.
  EXPECT_TRUE(keys({release(upper, "42")}).conflicts(keys({fillUpper(5, "42", 10)}), kAllKnown));
  EXPECT_TRUE(keys({fillUpper(5, "42", 10)}).conflicts(keys({release(upper, "42")}), kAllKnown));
  EXPECT_TRUE(keys({release(upper, "42")}).conflicts(keys({release(upper, "42")}), kAllKnown));
}

TEST_F(WriteKeysTest, Rule5_OwnersThatDifferInValueOrTableDoNotConflict) {
  WriteKeys released = keys({release(upper, "42")});
  EXPECT_FALSE(released.conflicts(keys({fillUpper(5, "43", 10)}), kAllKnown));
  EXPECT_FALSE(released.conflicts(keys({release(notes, "42")}), kAllKnown));
  // NULL is not the empty string.
  EXPECT_FALSE(keys({release(upper, "~")}).conflicts(keys({release(upper, "")}), kAllKnown));
  EXPECT_TRUE(keys({release(upper, "~")}).conflicts(keys({release(upper, "~")}), kAllKnown));
}

TEST_F(WriteKeysTest, SetColumnsThatCannotNameItsOwnerHasNoOwnerKey) {
  // An absent owner value: nothing to compare (its row is still a key).
  WriteKeys absent = keys({write(WriteOp::SetColumns, upper, 5, {"-", "scan.stl", "~"})});
  EXPECT_TRUE(absent.keyable());
  EXPECT_EQ(absent.size(), 1u);
  EXPECT_FALSE(absent.conflicts(keys({release(upper, "42")}), kAllKnown));
  // A plan whose owner column is not among its columns.
  WritePlan& odd = plan("jaws", {"upper_scan"}, {""}, {"upper_instruction_id"});
  WriteKeys unnamed = keys({write(WriteOp::SetColumns, &odd, 5, {"scan.stl"})});
  EXPECT_EQ(unnamed.size(), 1u);
  EXPECT_FALSE(unnamed.conflicts(keys({release(upper, "42")}), kAllKnown));
}

TEST_F(WriteKeysTest, Rule1_TruncateOrAnUnparsableRefMakesTheBatchConflictWithEverything) {
  WriteKeys truncated = keys({upsertOffice(1), write(WriteOp::Truncate, orders, 0)});
  EXPECT_FALSE(truncated.keyable());
  WriteKeys unrelated = keys({upsertOffice(2)});
  EXPECT_TRUE(truncated.conflicts(unrelated, kAllKnown));
  EXPECT_TRUE(unrelated.conflicts(truncated, kAllKnown));
  EXPECT_TRUE(truncated.conflicts(WriteKeys(), kAllKnown));

  WriteKeys badRef = keys({write(WriteOp::Upsert, orders, 10, {"7", "not-a-uuid", "new"})});
  EXPECT_FALSE(badRef.keyable());
  EXPECT_TRUE(unrelated.conflicts(badRef, kAllKnown));
  // A NULL or absent ref names no row and is fine.
  WriteKeys nullRef = keys({write(WriteOp::Upsert, orders, 10, {"7", "~", "new"}),
                            write(WriteOp::Upsert, orders, 11, {"7", "-", "new"})});
  EXPECT_TRUE(nullRef.keyable());
  EXPECT_EQ(nullRef.size(), 2u);
}

TEST_F(WriteKeysTest, ClearForgetsEverythingIncludingUnkeyable) {
  WriteKeys k = keys({upsertOffice(1), write(WriteOp::Truncate, orders, 0)});
  ASSERT_FALSE(k.keyable());
  k.clear();
  EXPECT_TRUE(k.keyable());
  EXPECT_TRUE(k.empty());
  EXPECT_EQ(k.size(), 0u);
  EXPECT_FALSE(k.conflicts(keys({upsertOffice(1)}), kNothingKnown));
  // And it is usable again, owner columns included.
  std::vector<TargetWrite> again{release(upper, "42")};
  k.add(again);
  EXPECT_FALSE(k.empty());
  EXPECT_TRUE(k.conflicts(keys({fillUpper(5, "42", 10)}), kAllKnown));
}

TEST_F(WriteKeysTest, AddTwiceHoldsTheUnion) {
  WriteKeys k;
  std::vector<TargetWrite> first{upsertOffice(1)};
  std::vector<TargetWrite> second{remove(orders, 10), release(lower, "9")};
  k.add(first);
  k.add(second);
  EXPECT_EQ(k.size(), 3u);
  EXPECT_TRUE(k.conflicts(keys({upsertOffice(1)}), kAllKnown));         // from the first
  EXPECT_TRUE(k.conflicts(keys({fillUpper(5, "42", 10)}), kAllKnown));  // deleted, second
  EXPECT_TRUE(k.conflicts(keys({release(lower, "9")}), kAllKnown));     // owner, second
  EXPECT_FALSE(k.conflicts(keys({upsertOffice(2), release(lower, "8")}), kAllKnown));
}

}  // namespace
}  // namespace pgmorph
