// Shared by the BatchOrderer tests: a small target schema with every shape the orderer
// handles (a parent chain, an owned table with two partial targets, a self-reference, a
// cycle between two tables), hand-made WritePlans for it, write builders, and a rendering
// of an ordered batch as one readable line per write.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "transform/BatchOrderer.h"
#include "transform/FkGraph.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph::ordertest {

// A value of a write: text, NULL ("~") or absent ("-").
inline void addValues(TargetWrite& w, const std::vector<std::string>& values) {
  for (const auto& v : values) {
    if (v == "~")
      w.addNull();
    else if (v == "-")
      w.addAbsent();
    else
      w.addValue(v);
  }
}

// Row ids are readable: uuid of the form 00000000-0000-0000-0000-0000000000NN.
inline Uuid rowId(int n) {
  char text[37];
  std::snprintf(text, sizeof text, "00000000-0000-0000-0000-%012d", n);
  return Uuid::parse(text);
}
inline std::string rowText(int n) {
  return rowId(n).str();
}

struct Schema {
  // offices <- orders <- jaws (owned by jaws, completed by the orders' upper/lower targets),
  // orders <- payments, employees -> employees (manager_id), a_t <-> b_t (a cycle).
  std::deque<TableMapping> sources;
  std::deque<WritePlan> plans;
  WritePlan *offices, *orders, *jaws, *upperJaws, *lowerJaws, *payments, *employees, *aT, *bT,
      *unknown;
  std::vector<ForeignKey> fks;
  std::optional<FkGraph> graph;

  explicit Schema(bool selfRefDeferrable = false, bool cycleDeferrable = true) {
    offices = &upsertPlan("legacy_office", "offices", {"id", "name"});
    orders = &upsertPlan("legacy_order", "orders", {"id", "office_id", "status", "notes"});
    jaws = &upsertPlan("legacy_jaw", "jaws", {"id", "scan_file"});
    upperJaws = &partialPlan("upper");
    lowerJaws = &partialPlan("lower");
    payments = &upsertPlan("legacy_payment", "payments", {"id", "order_id", "amount"});
    employees = &upsertPlan("legacy_employee", "employees", {"id", "manager_id", "name"});
    aT = &upsertPlan("legacy_a", "a_t", {"id", "b_id"});
    bT = &upsertPlan("legacy_b", "b_t", {"id", "a_id"});
    unknown = &upsertPlan("legacy_unknown", "audit", {"id", "what"});
    fks = {
        fk("orders_office_fkey", "public.orders", "office_id", "public.offices"),
        fk("jaws_order_fkey", "public.jaws", "order_id", "public.orders"),
        fk("payments_order_fkey", "public.payments", "order_id", "public.orders"),
        fk("employees_manager_fkey", "public.employees", "manager_id", "public.employees",
           selfRefDeferrable),
        fk("a_b_fkey", "public.a_t", "b_id", "public.b_t", cycleDeferrable),
        fk("b_a_fkey", "public.b_t", "a_id", "public.a_t", cycleDeferrable),
    };
    rebuild();
  }
  // After a test changed `fks` (an ON DELETE action, nullability).
  void rebuild() {
    graph.emplace(
        std::vector<std::string>{"public.offices", "public.orders", "public.jaws",
                                 "public.payments", "public.employees", "public.a_t", "public.b_t"},
        fks);
  }
  ForeignKey& key(const std::string& name) {
    for (auto& k : fks)
      if (k.name == name) return k;
    throw std::runtime_error("no foreign key " + name);
  }
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

 private:
  static ForeignKey fk(std::string name, std::string child, std::string column, std::string parent,
                       bool deferrable = false) {
    return ForeignKey{std::move(name),
                      std::move(child),
                      {std::move(column)},
                      std::move(parent),
                      {"id"},
                      deferrable,
                      false};
  }
  WritePlan& upsertPlan(std::string source, std::string target, std::vector<std::string> columns) {
    sources.emplace_back();
    TableMapping& src = sources.back();
    src.sourceTable = std::move(source);
    src.targets.emplace_back();
    src.targets.back().target = target;
    plans.emplace_back();
    WritePlan& p = plans.back();
    p.source = &src;
    p.mapping = &src.targets.back();
    p.targetSchema = "public";
    p.targetTable = std::move(target);
    p.idColumn = "id";
    p.columns = std::move(columns);
    return p;
  }
  WritePlan& partialPlan(std::string jawType) {
    sources.emplace_back();
    TableMapping& src = sources.back();
    src.sourceTable = "legacy_order";
    src.targets.emplace_back();
    src.targets.back().target = "jaws";
    src.targets.back().mode = TargetMode::Update;
    plans.emplace_back();
    WritePlan& p = plans.back();
    p.source = &src;
    p.mapping = &src.targets.back();
    p.targetSchema = "public";
    p.targetTable = "jaws";
    p.idColumn = "id";
    p.columns = {"order_id", "jaw_type"};
    p.ownerColumns = {"order_id", "jaw_type"};
    p.constantOwners = {{"jaw_type", jawType}};
    return p;
  }
};

// Builds writes in source order; each one's legacy key is "<n>" for row n.
class Writes {
 public:
  std::vector<TargetWrite> list;

  Writes& upsert(const WritePlan& p, int row, std::vector<std::string> rest) {
    TargetWrite& w = make(WriteOp::Upsert, p, row);
    w.addValue(rowText(row));
    addValues(w, rest);
    return *this;
  }
  Writes& remove(const WritePlan& p, int row) {
    make(WriteOp::Delete, p, row);
    return *this;
  }
  Writes& set(const WritePlan& p, int row, std::vector<std::string> values) {
    addValues(make(WriteOp::SetColumns, p, row), values);
    return *this;
  }
  Writes& release(const WritePlan& p, int ownerRow, std::optional<int> keep) {
    TargetWrite& w = make(WriteOp::Release, p, keep.value_or(0));
    w.hasRow = keep.has_value();
    addValues(w, {rowText(ownerRow), p.constantOwners.at(0).second});
    return *this;
  }
  Writes& truncate(const WritePlan& p) {
    make(WriteOp::Truncate, p, 0).hasRow = false;
    return *this;
  }

 private:
  TargetWrite& make(WriteOp op, const WritePlan& p, int row) {
    list.emplace_back();
    TargetWrite& w = list.back();
    w.op = op;
    w.plan = &p;
    w.row = rowId(row);
    w.lsn = Lsn(list.size());
    w.setLegacyKey(std::to_string(row));
    return w;
  }
};

// A value as tests write it: row ids as "#n", NULL as "~", absent as "-".
inline std::string shown(const TargetWrite& w, const WriteValue& v) {
  if (v.state == ValueState::Absent) return "-";
  if (v.state == ValueState::Null) return "~";
  std::string_view text = w.text(v);
  constexpr std::string_view prefix = "00000000-0000-0000-0000-";
  if (text.size() == 36 && text.substr(0, prefix.size()) == prefix)
    return "#" + std::to_string(std::stoll(std::string(text.substr(prefix.size()))));
  return std::string(text);
}

// "upsert orders 3" / "set-columns jaws 7 [order_id=..., jaw_type=upper]" / "release jaws
// upper keep 7"; values are shown for set-columns and, with `values`, for upserts.
inline std::string render(const TargetWrite& w, bool values = false) {
  std::string out = std::string(toString(w.op)) + " " + w.plan->targetTable;
  if (w.op == WriteOp::Truncate) return out;
  if (w.op == WriteOp::Release) {
    out += " " + shown(w, w.values()[0]) + " " + shown(w, w.values()[1]);
    return w.hasRow ? out + " keep " + std::string(w.legacyKey()) : out + " all";
  }
  out += " " + std::string(w.legacyKey());
  if (w.op == WriteOp::SetColumns || (values && w.op == WriteOp::Upsert)) {
    std::string list;
    auto vs = w.values();
    for (std::size_t i = 0; i < vs.size(); ++i) {
      if (w.op == WriteOp::Upsert && i == 0) continue;
      if (!list.empty()) list += ", ";
      list += w.plan->columns[i] + "=" + shown(w, vs[i]);
    }
    out += " [" + list + "]";
  }
  return out;
}

inline std::vector<std::string> render(const OrderedBatch& b, bool values = false) {
  std::vector<std::string> out;
  for (const auto& ow : b.writes) out.push_back(render(*ow.write, values));
  return out;
}

// Segment boundaries as a list of sizes.
inline std::vector<std::size_t> segmentSizes(const OrderedBatch& b) {
  std::vector<std::size_t> out;
  for (const auto& s : b.segments) out.push_back(s.end - s.begin);
  return out;
}

inline std::vector<std::size_t> sources(const OrderedBatch& b) {
  std::vector<std::size_t> out;
  for (const auto& ow : b.writes) out.push_back(ow.source);
  return out;
}

}  // namespace pgmorph::ordertest
