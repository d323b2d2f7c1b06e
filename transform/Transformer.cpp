#include "transform/Transformer.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "cdc/model/Errors.h"

namespace pgmorph {

namespace {

Uuid parseNamespace(const PipelineConfig& config) {
  try {
    return Uuid::parse(config.idNamespace);
  } catch (const std::invalid_argument&) {
    throw ConfigError(
        fmt::format("{}: ids.namespace '{}' is not a UUID", config.file, config.idNamespace));
  }
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

WritePlan makePlan(const TableMapping& table, const TargetMapping& m) {
  WritePlan p;
  p.source = &table;
  p.mapping = &m;
  p.targetSchema = m.targetSchema;
  p.targetTable = m.target;
  p.idColumn = m.idColumn;
  if (m.mode == TargetMode::Upsert) {
    p.columns.push_back(m.idColumn);
    p.refTables.emplace_back();
    if (m.legacyIdColumn) {
      p.columns.push_back(*m.legacyIdColumn);
      p.refTables.emplace_back();
    }
  }
  for (const auto& c : m.columns) {
    p.columns.push_back(c.target);
    p.refTables.push_back(c.ref.value_or(""));
  }
  for (const auto& s : m.set) {
    p.columns.push_back(s.target);
    p.refTables.emplace_back();
  }
  if (m.mode == TargetMode::Update) {
    for (const auto& c : m.columns)
      if (contains(table.keyColumns, c.source)) p.ownerColumns.push_back(c.target);
    for (const auto& s : m.set) {
      p.ownerColumns.push_back(s.target);
      p.constantOwners.emplace_back(s.target, s.value);
    }
  }
  return p;
}

}  // namespace

Transformer::Transformer(const PipelineConfig& config)
    : config_(config), ids_(parseNamespace(config_)) {
  // Plans and table plans point into config_ and plans_: size them once, never reallocate.
  std::size_t total = 0;
  for (const auto& t : config_.tables) total += t.targets.size();
  plans_.reserve(total);
  for (const auto& t : config_.tables)
    for (const auto& m : t.targets) plans_.push_back(makePlan(t, m));
  tables_.reserve(config_.tables.size());
  std::size_t offset = 0;
  for (std::size_t i = 0; i < config_.tables.size(); ++i) {
    const TableMapping& t = config_.tables[i];
    tables_.emplace_back(t, std::span<const WritePlan>(plans_.data() + offset, t.targets.size()),
                         config_.source, ids_);
    offset += t.targets.size();
    byName_[t.sourceTable].push_back(i);
  }
}

TransformOutcome Transformer::transform(const Change& change, WriteBatch& out) {
  nullOnError_ = false;
  return run(change, out);
}

TransformOutcome Transformer::transformNullingErrors(const Change& change, WriteBatch& out) {
  nullOnError_ = true;
  TransformOutcome outcome = run(change, out);
  nullOnError_ = false;
  return outcome;
}

std::vector<std::string> Transformer::targetTables() const {
  std::vector<std::string> out;
  for (const WritePlan& p : plans_) {
    std::string name = p.targetName();
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

TransformOutcome Transformer::transformWithPolicy(const Change& change, WriteBatch& out) {
  TransformOutcome outcome = transform(change, out);
  if (outcome.status != TransformOutcome::Status::Failed || outcome.policy != RowPolicy::Null)
    return outcome;
  std::string problem = std::move(outcome.problem);
  outcome = transformNullingErrors(change, out);
  outcome.nulled = std::move(problem);
  return outcome;
}

TablePlan* Transformer::find(const Change& change) {
  // Changes come in runs of one table (a transaction, a snapshot): try the last one first.
  if (last_ && last_->table().sourceTable == change.table() &&
      last_->table().sourceSchema == change.schema())
    return last_;
  auto it = byName_.find(change.table());
  if (it == byName_.end()) return nullptr;
  for (std::size_t i : it->second)
    if (tables_[i].table().sourceSchema == change.schema()) return last_ = &tables_[i];
  return nullptr;
}

TransformOutcome Transformer::run(const Change& change, WriteBatch& out) {
  TransformOutcome outcome;
  switch (change.kind) {
    case ChangeKind::Insert:
    case ChangeKind::Update:
    case ChangeKind::Delete:
    case ChangeKind::Truncate:
      break;
    default:
      outcome.status = TransformOutcome::Status::Unmapped;
      return outcome;
  }
  TablePlan* table = find(change);
  if (!table) {
    outcome.status = TransformOutcome::Status::Unmapped;
    return outcome;
  }
  failureKey_ = {};
  const std::size_t start = out.size();
  bool ok = true;
  switch (change.kind) {
    case ChangeKind::Insert:
      ok = insert(change, *table, out);
      break;
    case ChangeKind::Update:
      ok = update(change, *table, out);
      break;
    case ChangeKind::Delete:
      ok = remove(change, *table, out);
      break;
    default:
      truncate(change, *table, out);
      break;
  }
  if (!ok) {
    while (out.size() > start) out.popBack();
    outcome.status = TransformOutcome::Status::Failed;
    outcome.problem = fmt::format("{} {} ({} at {}): {}", table->table().idName,
                                  failureKey_.empty() ? "(key unknown)" : failureKey_,
                                  toString(change.kind), change.lsn.str(), failure_.detail);
    outcome.policy = failure_.policy;
    outcome.column = std::move(failure_.column);
    return outcome;
  }
  if (out.size() == start) outcome.status = TransformOutcome::Status::Filtered;
  return outcome;
}

bool Transformer::fail(std::string column, std::string detail, RowPolicy policy) {
  failure_.column = std::move(column);
  failure_.detail = std::move(detail);
  failure_.policy = policy;
  return false;
}

Transformer::KeyState Transformer::key(const Tuple& tuple, const std::vector<int>& slots,
                                       std::string& scratch, std::string_view& out,
                                       int& missingSlot) const {
  if (slots.size() == 1) {
    missingSlot = slots[0];
    if (!tuple.has(slots[0])) return KeyState::Absent;
    ColumnView v = tuple.get(slots[0]);
    if (v.isNull()) return KeyState::Null;
    out = v.value;
    return KeyState::Present;
  }
  scratch.clear();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    missingSlot = slots[i];
    if (!tuple.has(slots[i])) return KeyState::Absent;
    ColumnView v = tuple.get(slots[i]);
    if (v.isNull()) return KeyState::Null;
    if (i) scratch.push_back(',');
    IdMapper::appendKeyPart(scratch, v.value);
  }
  out = scratch;
  return KeyState::Present;
}

Transformer::Match Transformer::where(const TablePlan::Target& t, const Tuple& now,
                                      const Tuple* old) const {
  for (const auto& w : t.where) {
    ColumnView v;
    // Absent from the new tuple means unchanged: the identity (REPLICA IDENTITY FULL) may
    // still tell the value.
    if (now.has(w.slot))
      v = now.get(w.slot);
    else if (old && old->has(w.slot))
      v = old->get(w.slot);
    else
      return Match::Unknown;
    if (v.isNull()) return Match::No;
    const auto& values = w.clause->values;
    if (std::find(values.begin(), values.end(), v.value) == values.end()) return Match::No;
  }
  return Match::Yes;
}

TargetWrite& Transformer::begin(WriteBatch& out, WriteOp op, const TablePlan::Target& t,
                                const Change& change, std::string_view legacy) {
  TargetWrite& w = out.next();
  w.op = op;
  w.plan = t.plan;
  w.lsn = change.lsn;
  w.setLegacyKey(legacy);
  return w;
}

bool Transformer::values(const TablePlan::Target& t, const Tuple& tuple, TargetWrite& w) {
  std::string why;
  for (std::size_t i = 0; i < t.converters.size(); ++i) {
    const int slot = t.converterSlots[i];
    const ColumnMapping& m = t.converters[i].mapping();
    ColumnView v;
    const ColumnView* present = nullptr;
    if (tuple.has(slot)) {
      v = tuple.get(slot);
      present = &v;
    } else if (tuple.complete) {
      return fail(m.source,
                  fmt::format("column {} is not in the change: the source table has no such "
                              "column (fix columns.{} of {}; `pgmorph check` lists these)",
                              m.source, m.source, t.mapping->target));
    }
    if (t.converters[i].convert(present, w, why)) continue;
    if (nullOnError_ && m.onError == RowPolicy::Null) {
      w.addNull();
      continue;
    }
    return fail(m.source,
                fmt::format("column {} -> {}.{}: {}; on_error: {}", m.source, t.mapping->target,
                            m.target, why, toString(m.onError)),
                m.onError);
  }
  for (const auto& s : t.mapping->set) w.addValue(s.value);
  return true;
}

}  // namespace pgmorph
