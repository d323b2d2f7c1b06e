#include "sink/ParkedWriteCodec.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace pgmorph {

ParkedWriteCodec::ParkedWriteCodec(std::span<const WritePlan> plans) {
  for (const WritePlan& p : plans) plans_.emplace(planKey(p), &p);
}

std::string ParkedWriteCodec::sourceName(const WritePlan& plan) {
  if (!plan.source) return "(unknown source table)";
  return plan.source->idName.empty() ? plan.source->sourceTable : plan.source->idName;
}

std::string ParkedWriteCodec::planKey(const WritePlan& plan) {
  std::string keys;
  bool update = plan.mapping && plan.mapping->mode == TargetMode::Update;
  if (plan.mapping)
    for (const auto& k : plan.mapping->keyColumns) {
      if (!keys.empty()) keys += ',';
      keys += k;
    }
  return fmt::format("{}>{}[{}:{}]", sourceName(plan), plan.targetName(),
                     update ? "update" : "upsert", keys);
}

std::string_view ParkedWriteCodec::opName(WriteOp op) {
  switch (op) {
    case WriteOp::Upsert:
      return "upsert";
    case WriteOp::Delete:
      return "delete";
    case WriteOp::SetColumns:
      return "set_columns";
    case WriteOp::Release:
      return "release";
    case WriteOp::Truncate:
      return "truncate";
  }
  return "upsert";
}

namespace {

bool parseOp(std::string_view name, WriteOp& op) {
  for (WriteOp o :
       {WriteOp::Upsert, WriteOp::Delete, WriteOp::SetColumns, WriteOp::Release, WriteOp::Truncate})
    if (ParkedWriteCodec::opName(o) == name) {
      op = o;
      return true;
    }
  return false;
}

// The columns a write's values align with (WritePlan.h).
const std::vector<std::string>& valueColumns(const WritePlan& plan, WriteOp op) {
  static const std::vector<std::string> none;
  switch (op) {
    case WriteOp::Upsert:
    case WriteOp::SetColumns:
      return plan.columns;
    case WriteOp::Release:
      return plan.ownerColumns;
    default:
      return none;
  }
}

}  // namespace

ParkedRow ParkedWriteCodec::encode(const TargetWrite& w) {
  ParkedRow r;
  const WritePlan& plan = *w.plan;
  r.sourceTable = sourceName(plan);
  r.legacyKey = std::string(w.legacyKey());
  r.targetTable = plan.targetName();
  r.plan = planKey(plan);
  r.op = std::string(opName(w.op));
  if (w.op != WriteOp::Truncate && (w.op != WriteOp::Release || w.hasRow)) r.rowId = w.row;
  r.hasRow = w.hasRow;
  const auto& columns = valueColumns(plan, w.op);
  auto values = w.values();
  for (std::size_t i = 0; i < values.size() && i < columns.size(); ++i) {
    ParkedValue v;
    v.column = columns[i];
    switch (values[i].state) {
      case ValueState::Present:
        v.state = ParkedValue::State::Present;
        v.text = std::string(w.text(values[i]));
        break;
      case ValueState::Null:
        v.state = ParkedValue::State::Null;
        break;
      case ValueState::Absent:
        v.state = ParkedValue::State::Absent;
        break;
    }
    r.values.push_back(std::move(v));
  }
  r.lsn = w.lsn;
  return r;
}

const WritePlan* ParkedWriteCodec::plan(const std::string& key) const {
  auto it = plans_.find(key);
  return it == plans_.end() ? nullptr : it->second;
}

bool ParkedWriteCodec::decode(const ParkedRow& row, TargetWrite& out, std::string& why) const {
  out.clear();
  WriteOp op;
  if (!parseOp(row.op, op)) {
    why = fmt::format("parked entry {} is a '{}', not a write", row.id, row.op);
    return false;
  }
  const WritePlan* p = plan(row.plan);
  if (!p) {
    why = fmt::format(
        "the mapping no longer writes {} from {} the way parked entry {} was made ({}): retry "
        "it with the mapping it was parked under, or discard it",
        row.targetTable, row.sourceTable, row.id, row.plan);
    return false;
  }
  out.op = op;
  out.plan = p;
  out.hasRow = row.hasRow;
  out.lsn = row.lsn;
  out.setLegacyKey(row.legacyKey);
  if (row.rowId) out.row = *row.rowId;
  const auto& columns = valueColumns(*p, op);
  std::vector<const ParkedValue*> byColumn(columns.size(), nullptr);
  for (const auto& v : row.values) {
    auto it = std::find(columns.begin(), columns.end(), v.column);
    if (it == columns.end()) {
      why = fmt::format(
          "the mapping of {} no longer has column {}, which parked entry {} writes: retry it "
          "with the mapping it was parked under, or discard it",
          row.targetTable, v.column, row.id);
      return false;
    }
    byColumn[static_cast<std::size_t>(it - columns.begin())] = &v;
  }
  for (const ParkedValue* v : byColumn) {
    if (!v || v->state == ParkedValue::State::Absent)
      out.addAbsent();
    else if (v->state == ParkedValue::State::Null)
      out.addNull();
    else
      out.addValue(v->text);
  }
  // An upsert's id slot is always present: it is the row.
  if (op == WriteOp::Upsert && !columns.empty() && out.values()[0].state == ValueState::Absent) {
    TargetWrite fixed;
    WriteEdits::withValue(out, 0, out.row.str(), fixed);
    out = std::move(fixed);
  }
  return true;
}

namespace WriteEdits {

namespace {

void copyHeader(const TargetWrite& in, TargetWrite& out) {
  out.clear();
  out.op = in.op;
  out.plan = in.plan;
  out.row = in.row;
  out.hasRow = in.hasRow;
  out.lsn = in.lsn;
  out.setLegacyKey(in.legacyKey());
}

void copyValue(const TargetWrite& in, const WriteValue& v, TargetWrite& out) {
  switch (v.state) {
    case ValueState::Present:
      out.addValue(in.text(v));
      break;
    case ValueState::Null:
      out.addNull();
      break;
    case ValueState::Absent:
      out.addAbsent();
      break;
  }
}

}  // namespace

void overlay(const TargetWrite& base, const TargetWrite& later, TargetWrite& out) {
  copyHeader(later, out);
  auto a = base.values();
  auto b = later.values();
  std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (i < b.size() && b[i].state != ValueState::Absent)
      copyValue(later, b[i], out);
    else if (i < a.size())
      copyValue(base, a[i], out);
    else
      out.addAbsent();
  }
}

void withNull(const TargetWrite& in, std::size_t index, TargetWrite& out) {
  copyHeader(in, out);
  auto values = in.values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i == index)
      out.addNull();
    else
      copyValue(in, values[i], out);
  }
}

void withValue(const TargetWrite& in, std::size_t index, std::string_view text, TargetWrite& out) {
  copyHeader(in, out);
  auto values = in.values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i == index)
      out.addValue(text);
    else
      copyValue(in, values[i], out);
  }
}

void fillReference(const WritePlan& plan, const Uuid& row, std::string_view legacyKey,
                   std::size_t index, std::string_view text, Lsn lsn, TargetWrite& out) {
  out.clear();
  out.op = WriteOp::SetColumns;
  out.plan = &plan;
  out.row = row;
  out.lsn = lsn;
  out.setLegacyKey(legacyKey);
  for (std::size_t i = 0; i < plan.columns.size(); ++i) {
    if (i == index)
      out.addValue(text);
    else
      out.addAbsent();
  }
}

}  // namespace WriteEdits

}  // namespace pgmorph
