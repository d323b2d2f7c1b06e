#include "sink/BulkStatements.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace pgmorph {

BulkStatements::BulkStatements(PgConnection& conn) : conn_(conn) {}

void BulkStatements::clear() {
  builders_.clear();
  tableTypes_.clear();
}

void BulkStatements::loadTypes(const WritePlan& plan) {
  if (builders_.count(&plan)) return;
  std::string table = conn_.quoteQualified(plan.targetSchema, plan.targetTable);
  auto known = tableTypes_.find(table);
  if (known == tableTypes_.end()) {
    // Without typmod (see PlanColumnTypes): the column's own assignment checks the length.
    // -1, not NULL: format_type(bpchar, NULL) says "character", which as a cast means
    // character(1) and would cut 'AU' to 'A'; with -1 it says "bpchar" (and "bit" becomes
    // "\"bit\"") — the type without any length.
    auto res = conn_.execParams(
        "SELECT a.attname, format_type(a.atttypid, -1) FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
        {table});
    std::unordered_map<std::string, std::string> types;
    for (int r = 0; r < res.rows(); ++r)
      types.emplace(std::string(res.value(r, 0)), std::string(res.value(r, 1)));
    known = tableTypes_.emplace(table, std::move(types)).first;
  }
  const auto& types = known->second;
  PlanColumnTypes t;
  auto typeOf = [&](const std::string& column, std::string& out) {
    auto it = types.find(column);
    if (it == types.end()) return false;
    out = it->second;
    return true;
  };
  bool complete = typeOf(plan.idColumn, t.id);
  for (const auto& c : plan.columns) complete = complete && typeOf(c, t.columns.emplace_back());
  for (const auto& c : plan.ownerColumns) complete = complete && typeOf(c, t.owners.emplace_back());
  std::unique_ptr<BulkSqlBuilder> b;
  if (complete) {
    try {
      b = std::make_unique<BulkSqlBuilder>(
          plan, std::move(t), [this](std::string_view name) { return conn_.quoteIdent(name); });
    } catch (const std::invalid_argument& e) {
      // The one-row path reports the same problem with the write that has it.
      spdlog::debug("target: no multi-row statements for {}: {}", table, e.what());
    }
  } else {
    spdlog::debug("target: no multi-row statements for {}: a column is not in the catalog", table);
  }
  builders_.emplace(&plan, std::move(b));
}

const BulkSqlBuilder* BulkStatements::builder(const WritePlan& plan) const {
  auto it = builders_.find(&plan);
  return it == builders_.end() ? nullptr : it->second.get();
}

bool BulkStatements::bulkable(const TargetWrite& w) const {
  if (!w.plan || !builder(*w.plan)) return false;
  switch (w.op) {
    case WriteOp::Upsert:
    case WriteOp::Delete:
      return true;
    case WriteOp::Release:
      return !w.plan->ownerColumns.empty();
    case WriteOp::SetColumns:
      for (const auto& v : w.values())
        if (v.state != ValueState::Absent) return true;
      return false;  // only checks that the row exists: one row at a time
    case WriteOp::Truncate:
      return false;
  }
  return false;
}

bool BulkStatements::sameShape(const TargetWrite& a, const TargetWrite& b) {
  if (a.plan != b.plan || a.op != b.op || a.rowOptional != b.rowOptional) return false;
  if (a.op != WriteOp::Upsert && a.op != WriteOp::SetColumns) return true;
  auto x = a.values(), y = b.values();
  if (x.size() != y.size()) return false;
  // An Upsert's id slot is written from `row` whatever its state says.
  for (std::size_t i = a.op == WriteOp::Upsert ? 1 : 0; i < x.size(); ++i)
    if ((x[i].state == ValueState::Absent) != (y[i].state == ValueState::Absent)) return false;
  return true;
}

bool BulkStatements::fill(std::span<const TargetWrite* const> run) {
  const TargetWrite& first = *run.front();
  // Which values go into arrays, in parameter order (see BulkSqlBuilder).
  columns_.clear();
  bool ids = true;
  auto values = first.values();
  switch (first.op) {
    case WriteOp::Upsert:
      for (std::size_t i = 1; i < values.size(); ++i)
        if (values[i].state != ValueState::Absent) columns_.push_back(i);
      break;
    case WriteOp::SetColumns:
      for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i].state != ValueState::Absent) columns_.push_back(i);
      break;
    case WriteOp::Release:
      ids = false;  // the owner values first, the kept row last
      for (std::size_t i = 0; i < values.size(); ++i) columns_.push_back(i);
      break;
    default:
      break;
  }
  std::size_t count = columns_.size() + 1;
  if (arrays_.size() < count) arrays_.resize(count);
  for (std::size_t c = 0; c < count; ++c) arrays_[c].clear();
  ArrayLiteral& rowIds = ids ? arrays_[0] : arrays_[count - 1];
  std::size_t offset = ids ? 1 : 0;
  char id[36];
  for (const TargetWrite* w : run) {
    auto vs = w->values();
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const WriteValue& v = vs[columns_[c]];
      if (v.state == ValueState::Present) {
        if (!arrays_[c + offset].add(w->text(v))) return false;
      } else {
        // NULL; an absent owner value cannot happen (the one-row path refuses it).
        arrays_[c + offset].addNull();
      }
    }
    if (w->op == WriteOp::Release && !w->hasRow) {
      rowIds.addNull();
    } else {
      w->row.format(id);
      rowIds.add(std::string_view(id, sizeof id));
    }
  }
  pointers_.resize(count);
  for (std::size_t c = 0; c < count; ++c) pointers_[c] = arrays_[c].c_str();
  return true;
}

bool BulkStatements::send(std::span<const TargetWrite* const> run) {
  if (run.empty()) throw std::invalid_argument("BulkStatements::send: empty run");
  const TargetWrite& first = *run.front();
  const BulkSqlBuilder* b = builder(*first.plan);
  if (!b) throw std::logic_error("BulkStatements::send: plan without multi-row statements");
  switch (first.op) {
    case WriteOp::Upsert:
      sql_ = b->upsert(first.values());
      break;
    case WriteOp::Delete:
      sql_ = b->remove();
      break;
    case WriteOp::SetColumns:
      sql_ = b->setColumns(first.values());
      break;
    case WriteOp::Release:
      sql_ = b->release();
      break;
    case WriteOp::Truncate:
      throw std::logic_error("BulkStatements::send: a truncate has no multi-row form");
  }
  if (!fill(run)) return false;
  if (PQsendQueryParams(conn_.get(), sql_.c_str(), static_cast<int>(pointers_.size()), nullptr,
                        pointers_.data(), nullptr, nullptr, 0) != 1)
    conn_.throwConnectionError(fmt::format("queueing a multi-row {} of {} rows into {}.{}",
                                           toString(first.op), run.size(), first.plan->targetSchema,
                                           first.plan->targetTable));
  return true;
}

}  // namespace pgmorph
