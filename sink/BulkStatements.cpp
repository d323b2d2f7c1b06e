#include "sink/BulkStatements.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace pgmorph {

BulkStatements::BulkStatements(PgConnection& conn) : conn_(conn) {}

void BulkStatements::clear() {
  plans_.clear();
  tableTypes_.clear();
}

void BulkStatements::loadTypes(const WritePlan& plan) {
  if (plans_.count(&plan)) return;
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
  Plan entry;
  if (complete) {
    // Timestamps may go binary whatever source.timezone says: a value whose zone is not UTC
    // does not convert exactly (BinaryArray::add is false) and its column goes as text.
    auto binary = [](const std::string& type) { return CopyBinaryEncoder::typeOf(type, true); };
    entry.id = binary(t.id);
    for (const auto& c : t.columns) entry.columns.push_back(binary(c));
    for (const auto& c : t.owners) entry.owners.push_back(binary(c));
    try {
      entry.builder = std::make_unique<BulkSqlBuilder>(
          plan, std::move(t), [this](std::string_view name) { return conn_.quoteIdent(name); });
    } catch (const std::invalid_argument& e) {
      // The one-row path reports the same problem with the write that has it.
      spdlog::debug("target: no multi-row statements for {}: {}", table, e.what());
    }
  } else {
    spdlog::debug("target: no multi-row statements for {}: a column is not in the catalog", table);
  }
  plans_.emplace(&plan, std::move(entry));
}

const BulkStatements::Plan* BulkStatements::plan(const WritePlan& plan) const {
  auto it = plans_.find(&plan);
  return it == plans_.end() || !it->second.builder ? nullptr : &it->second;
}

bool BulkStatements::bulkable(const TargetWrite& w) const {
  if (!w.plan || !plan(*w.plan)) return false;
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
  if (a.op == WriteOp::Upsert && a.fresh != b.fresh) return false;
  if (a.op != WriteOp::Upsert && a.op != WriteOp::SetColumns) return true;
  auto x = a.values(), y = b.values();
  if (x.size() != y.size()) return false;
  // An Upsert's id slot is written from `row` whatever its state says.
  for (std::size_t i = a.op == WriteOp::Upsert ? 1 : 0; i < x.size(); ++i)
    if ((x[i].state == ValueState::Absent) != (y[i].state == ValueState::Absent)) return false;
  return true;
}

std::optional<std::string_view> BulkStatements::textOf(const TargetWrite& w, const Param& param,
                                                       char (&id)[36]) {
  if (param.from == Param::From::RowId) {
    if (w.op == WriteOp::Release && !w.hasRow) return std::nullopt;
    w.row.format(id);
    return std::string_view(id, sizeof id);
  }
  // NULL; an absent owner value cannot happen (the one-row path refuses it).
  const WriteValue& v = w.values()[param.value];
  if (v.state != ValueState::Present) return std::nullopt;
  return w.text(v);
}

bool BulkStatements::fillParam(std::size_t p, std::span<const TargetWrite* const> run) {
  const Param& param = params_[p];
  char id[36];
  if (param.binary) {
    BinaryArray& array = binaries_[p];
    array.reset(*param.binary);
    // Row ids of a uuid column go as their 16 bytes, without a text form in between.
    const bool rawIds = param.from == Param::From::RowId && *param.binary == BinaryType::Uuid;
    bool exact = true;
    for (const TargetWrite* w : run) {
      if (rawIds && !(w->op == WriteOp::Release && !w->hasRow)) {
        array.addUuid(w->row);
      } else if (auto text = textOf(*w, param, id)) {
        if (!(exact = array.add(*text))) break;
      } else {
        array.addNull();
      }
    }
    if (exact) {
      std::string_view bytes = array.bytes();
      pointers_[p] = bytes.data();
      lengths_[p] = static_cast<int>(bytes.size());
      formats_[p] = 1;
      oids_[p] = BinaryArray::arrayOid(*param.binary);
      paramTypes_[p] = BinaryArray::sqlElementType(*param.binary, param.columnType);
      return true;
    }
  }
  // A text array, cast on the server: what the type has no binary form for, or a value that
  // does not convert exactly (the server judges it as it judges the one-row statement's).
  ArrayLiteral& array = texts_[p];
  array.clear();
  for (const TargetWrite* w : run) {
    if (auto text = textOf(*w, param, id)) {
      if (!array.add(*text)) return false;  // a NUL byte: the caller goes row by row
    } else {
      array.addNull();
    }
  }
  pointers_[p] = array.c_str();
  lengths_[p] = 0;
  formats_[p] = 0;
  oids_[p] = 0;
  paramTypes_[p] = "text";
  return true;
}

bool BulkStatements::fill(const Plan& plan, std::span<const TargetWrite* const> run) {
  const TargetWrite& first = *run.front();
  // Which values go into arrays, in parameter order (see BulkSqlBuilder).
  params_.clear();
  const PlanColumnTypes& types = plan.builder->types();
  auto rowIds = [&] { params_.push_back({Param::From::RowId, 0, plan.id, types.id}); };
  auto values = first.values();
  switch (first.op) {
    case WriteOp::Upsert:
      rowIds();
      for (std::size_t i = 1; i < values.size(); ++i)
        if (values[i].state != ValueState::Absent)
          params_.push_back({Param::From::Value, i, plan.columns[i], types.columns[i]});
      break;
    case WriteOp::SetColumns:
      rowIds();
      for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i].state != ValueState::Absent)
          params_.push_back({Param::From::Value, i, plan.columns[i], types.columns[i]});
      break;
    case WriteOp::Release:
      // The owner values first, the kept row last.
      for (std::size_t i = 0; i < values.size(); ++i)
        params_.push_back({Param::From::Value, i, plan.owners[i], types.owners[i]});
      rowIds();
      break;
    default:
      rowIds();
      break;
  }
  std::size_t count = params_.size();
  if (texts_.size() < count) texts_.resize(count);
  if (binaries_.size() < count) binaries_.resize(count);
  pointers_.resize(count);
  lengths_.resize(count);
  formats_.resize(count);
  oids_.resize(count);
  paramTypes_.resize(count);
  for (std::size_t p = 0; p < count; ++p)
    if (!fillParam(p, run)) return false;
  return true;
}

bool BulkStatements::send(std::span<const TargetWrite* const> run) {
  if (run.empty()) throw std::invalid_argument("BulkStatements::send: empty run");
  const TargetWrite& first = *run.front();
  const Plan* p = plan(*first.plan);
  if (!p) throw std::logic_error("BulkStatements::send: plan without multi-row statements");
  if (first.op == WriteOp::Truncate)
    throw std::logic_error("BulkStatements::send: a truncate has no multi-row form");
  if (!fill(*p, run)) return false;
  const BulkSqlBuilder& b = *p->builder;
  switch (first.op) {
    case WriteOp::Upsert:
      // Rows the source inserted: a plain INSERT (see TargetWrite::fresh).
      sql_ = first.fresh ? b.insert(first.values(), paramTypes_)
                         : b.upsert(first.values(), paramTypes_);
      break;
    case WriteOp::Delete:
      sql_ = b.remove();  // $1 is an array of the id's own type either way
      break;
    case WriteOp::SetColumns:
      sql_ = b.setColumns(first.values(), paramTypes_);
      break;
    case WriteOp::Release:
      sql_ = b.release(paramTypes_);
      break;
    case WriteOp::Truncate:
      break;
  }
  if (PQsendQueryParams(conn_.get(), sql_.c_str(), static_cast<int>(pointers_.size()), oids_.data(),
                        pointers_.data(), lengths_.data(), formats_.data(), 0) != 1)
    conn_.throwConnectionError(fmt::format("queueing a multi-row {} of {} rows into {}.{}",
                                           toString(first.op), run.size(), first.plan->targetSchema,
                                           first.plan->targetTable));
  return true;
}

}  // namespace pgmorph
