// mode: update targets (the jaws an order completes), checked on a tiny in-memory model of
// the target table that applies writes exactly as WritePlan.h defines them. The net result
// must be right whatever order the two partial targets are listed in.
#include <gtest/gtest.h>

#include <map>

#include "transform/Transformer.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::makeChange;
using test::num;
using test::str;
using test::summary;
using Strings = std::vector<std::string>;
using Row = std::map<std::string, std::optional<std::string>>;  // column -> value (nullopt: NULL)

// One target table, applying the ops as WritePlan.h says the sink does.
class TableModel {
 public:
  explicit TableModel(std::string table) : table_(std::move(table)) {}

  void apply(const WriteBatch& batch) {
    for (const auto& w : batch.writes())
      if (w.plan->targetTable == table_) apply(w);
  }

  const Row& row(const Uuid& id) const { return rows_.at(id); }
  std::size_t size() const { return rows_.size(); }

 private:
  void apply(const TargetWrite& w) {
    const WritePlan& p = *w.plan;
    auto values = w.values();
    switch (w.op) {
      case WriteOp::Upsert: {
        Row& r = rows_[w.row];
        for (std::size_t i = 0; i < p.columns.size(); ++i) set(r, p.columns[i], w, values[i]);
        break;
      }
      case WriteOp::Delete:
        rows_.erase(w.row);
        break;
      case WriteOp::SetColumns: {
        auto it = rows_.find(w.row);
        ASSERT_NE(it, rows_.end()) << "SetColumns touched no row: " << w.row.str();
        for (std::size_t i = 0; i < p.columns.size(); ++i)
          set(it->second, p.columns[i], w, values[i]);
        break;
      }
      case WriteOp::Release:
        for (auto& [id, r] : rows_) {
          if (w.hasRow && id == w.row) continue;
          bool owned = true;
          for (std::size_t i = 0; i < p.ownerColumns.size(); ++i)
            owned = owned && values[i].state == ValueState::Present &&
                    r[p.ownerColumns[i]] == std::string(w.text(values[i]));
          if (owned)
            for (const auto& c : p.columns) r[c] = std::nullopt;
        }
        break;
      case WriteOp::Truncate:
        if (p.mapping->mode == TargetMode::Upsert) {
          rows_.clear();
          break;
        }
        for (auto& [id, r] : rows_) {
          bool match = true;
          for (const auto& [c, v] : p.constantOwners) match = match && r[c] == v;
          if (match)
            for (const auto& c : p.columns) r[c] = std::nullopt;
        }
        break;
    }
  }
  static void set(Row& r, const std::string& column, const TargetWrite& w, const WriteValue& v) {
    if (v.state == ValueState::Present) r[column] = std::string(w.text(v));
    if (v.state == ValueState::Null) r[column] = std::nullopt;
  }

  std::string table_;
  std::map<Uuid, Row> rows_;
};

Change instruction(ChangeKind kind, std::string id, std::optional<std::string> upper,
                   std::optional<std::string> lower, std::string oldId = "") {
  Change c;
  c.kind = kind;
  c.setSchema("public");
  c.setTable("dispatch_instruction");
  auto add = [&](std::string_view name, std::optional<std::string> v) {
    c.addColumn(name, "integer", v.value_or(""), v ? ValueKind::Number : ValueKind::Null);
  };
  add("id", id);
  add("patient_id", "1");
  add("doctor_id", std::nullopt);
  add("upper_jaw_id", upper);
  add("lower_jaw_id", lower);
  add("status", "1");
  add("price", "10.00");
  c.addColumn("notes", "text", "n", ValueKind::String);
  c.addColumn("submitted_at", "timestamp without time zone", "", ValueKind::Null);
  c.addColumn("created_at", "timestamp without time zone", "2019-01-01 05:00:00",
              ValueKind::String);
  if (kind == ChangeKind::Update)
    c.addIdentity("id", "integer", oldId.empty() ? id : oldId, ValueKind::Number);
  return c;
}

// The dispatch mapping as shipped, and the same with the lower-jaw target listed before the
// upper-jaw one.
std::string mappingText(bool lowerFirst) {
  std::string text = test::dispatchMappingText();
  if (!lowerFirst) return text;
  const std::string upper = "    - target: jaws\n      key: { column: upper_jaw_id";
  const std::string lower = "    - target: jaws\n      key: { column: lower_jaw_id";
  auto u = text.find(upper), l = text.find(lower);
  auto end = text.find("\n\n", l);
  if (u == std::string::npos || l == std::string::npos || end == std::string::npos)
    throw std::runtime_error("the example mapping changed shape");
  std::string upperBlock = text.substr(u, l - u);
  std::string lowerBlock = text.substr(l, end + 1 - l);
  return text.substr(0, u) + lowerBlock + upperBlock + text.substr(end + 1);
}

class PartialTargetTest : public ::testing::TestWithParam<bool> {
 protected:
  PartialTargetTest() : tf_(test::load(mappingText(GetParam()))), ids_(tf_.ids()), jaws_("jaws") {
    // Jaws 1..4 exist on the target (they come from dispatch_jaw).
    for (const char* id : {"1", "2", "3", "4"})
      apply(makeChange(
          ChangeKind::Insert, "dispatch_jaw",
          {num("id", id), str("scan_file", "s.stl"), str("created_at", "2018-01-01 02:00:00")}));
  }

  void apply(const Change& c) {
    batch_.clear();
    TransformOutcome out = tf_.transform(c, batch_);
    ASSERT_EQ(out.status, TransformOutcome::Status::Written) << out.problem;
    jaws_.apply(batch_);
  }
  Uuid jaw(const char* id) const { return ids_.id("dispatch_jaw", id); }
  std::string order(const char* id) const { return ids_.id("dispatch_instruction", id).str(); }
  Row filled(const char* orderId, const char* type) const {
    return Row{{"order_id", order(orderId)}, {"jaw_type", type}};
  }
  Row jawState(const char* id) const {
    const Row& r = jaws_.row(jaw(id));
    auto get = [&](const char* c) { return r.count(c) ? r.at(c) : std::nullopt; };
    return Row{{"order_id", get("order_id")}, {"jaw_type", get("jaw_type")}};
  }
  static Row empty() { return Row{{"order_id", std::nullopt}, {"jaw_type", std::nullopt}}; }

  Transformer tf_;
  const IdMapper& ids_;
  TableModel jaws_;
  WriteBatch batch_;
};

TEST_P(PartialTargetTest, InsertReleasesThenFillsTheJawsItNames) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  EXPECT_EQ(summary(batch_), (Strings{"upsert orders", "release jaws", "release jaws",
                                      "set-columns jaws", "set-columns jaws"}));
  for (std::size_t i : {1u, 2u}) {
    EXPECT_TRUE(batch_.writes()[i].hasRow);
    EXPECT_EQ(batch_.writes()[i].legacyKey(), "42");
  }
  EXPECT_EQ(jawState("1"), filled("42", "upper"));
  EXPECT_EQ(jawState("2"), filled("42", "lower"));
  EXPECT_EQ(jawState("3"), empty());
  EXPECT_EQ(jaws_.row(jaw("1")).at("scan_file"), "s.stl");  // only the listed columns are written
}

TEST_P(PartialTargetTest, SwappingUpperAndLowerSwapsTheJawTypes) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  apply(instruction(ChangeKind::Update, "42", "2", "1"));
  // All releases come before all set-columns, whatever the target order.
  EXPECT_EQ(summary(batch_), (Strings{"upsert orders", "release jaws", "release jaws",
                                      "set-columns jaws", "set-columns jaws"}));
  EXPECT_EQ(jawState("1"), filled("42", "lower"));
  EXPECT_EQ(jawState("2"), filled("42", "upper"));
}

TEST_P(PartialTargetTest, NamingAnotherJawReleasesTheOldOne) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  apply(instruction(ChangeKind::Insert, "43", "3", std::nullopt));
  apply(instruction(ChangeKind::Update, "42", "4", "2"));
  EXPECT_EQ(jawState("1"), empty());
  EXPECT_EQ(jawState("4"), filled("42", "upper"));
  EXPECT_EQ(jawState("2"), filled("42", "lower"));
  EXPECT_EQ(jawState("3"), filled("43", "upper"));  // another order's jaw is left alone
}

TEST_P(PartialTargetTest, AKeyColumnBecomingNullReleasesWithoutKeepingARow) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  apply(instruction(ChangeKind::Update, "42", "1", std::nullopt));
  EXPECT_EQ(jawState("1"), filled("42", "upper"));
  EXPECT_EQ(jawState("2"), empty());
  bool sawRowless = false;
  for (const auto& w : batch_.writes())
    sawRowless = sawRowless || (w.op == WriteOp::Release && !w.hasRow);
  EXPECT_TRUE(sawRowless);
}

TEST_P(PartialTargetTest, DeletingTheOrderReleasesItsJaws) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  apply(instruction(ChangeKind::Insert, "43", "3", "4"));
  apply(makeChange(ChangeKind::Delete, "dispatch_instruction", {}, {num("id", "42")}));
  EXPECT_EQ(jawState("1"), empty());
  EXPECT_EQ(jawState("2"), empty());
  EXPECT_EQ(jawState("3"), filled("43", "upper"));
  EXPECT_EQ(jawState("4"), filled("43", "lower"));
  EXPECT_EQ(jaws_.size(), 4u);  // a partial target never deletes rows
}

TEST_P(PartialTargetTest, AKeyChangeMovesTheJawsToTheNewOrderId) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  apply(instruction(ChangeKind::Update, "50", "1", "2", "42"));
  EXPECT_EQ(summary(batch_),
            (Strings{"release jaws", "release jaws", "delete orders", "upsert orders",
                     "release jaws", "release jaws", "set-columns jaws", "set-columns jaws"}));
  EXPECT_EQ(jawState("1"), filled("50", "upper"));
  EXPECT_EQ(jawState("2"), filled("50", "lower"));
}

TEST_P(PartialTargetTest, TruncateReleasesEveryJawButKeepsTheRows) {
  apply(instruction(ChangeKind::Insert, "42", "1", "2"));
  apply(makeChange(ChangeKind::Truncate, "dispatch_instruction", {}));
  for (const char* id : {"1", "2", "3", "4"}) EXPECT_EQ(jawState(id), empty()) << id;
  EXPECT_EQ(jaws_.size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(TargetOrder, PartialTargetTest, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? "LowerListedFirst" : "AsShipped";
                         });

}  // namespace
}  // namespace pgmorph
