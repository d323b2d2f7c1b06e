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

bool Transformer::upsert(const Change& change, const TablePlan::Target& t, const Tuple& now,
                         std::string_view legacy, bool keyChanged, WriteBatch& out) {
  // `legacy` is the row's own key: most targets are keyed by it.
  std::string_view k = legacy;
  int missing = -1;
  KeyState ks = t.keyIsSourceKey ? KeyState::Present : key(now, t.keySlots, targetKey_, k, missing);
  if (ks != KeyState::Present) {
    auto at = std::find(t.keySlots.begin(), t.keySlots.end(), missing) - t.keySlots.begin();
    const std::string& column = t.mapping->keyColumns[at];
    return fail(column, fmt::format("key column {} of {} is {}", column, t.mapping->target,
                                    ks == KeyState::Null ? "NULL" : "not in the change"));
  }
  Uuid id = (*t.keyIds)(k);
  TargetWrite& w = begin(out, WriteOp::Upsert, t, change, legacy);
  w.row = id;
  char buf[36];
  id.format(buf);
  w.addValue(std::string_view(buf, sizeof buf));
  if (t.mapping->legacyIdColumn) w.addValue(k);
  if (!values(t, now, w)) return false;
  if (keyChanged) {
    // The old row is deleted and this one inserted: without the unchanged TOASTed values
    // the new row would silently miss them.
    std::span<const WriteValue> vals = w.values();
    for (std::size_t i = 0; i < vals.size(); ++i)
      if (vals[i].state == ValueState::Absent)
        return fail(t.plan->columns[i],
                    fmt::format("the update changes the key, so {} gets a new row, but the "
                                "change omits {}.{} (an unchanged TOASTed value); re-apply this "
                                "row from the source (its new key) once it is parked",
                                t.mapping->target, t.mapping->target, t.plan->columns[i]));
  }
  return true;
}

bool Transformer::release(const Change& change, const TablePlan::Target& t, const Tuple& owner,
                          std::string_view legacy, const Uuid* keep, WriteBatch& out) {
  TargetWrite& w = begin(out, WriteOp::Release, t, change, legacy);
  w.hasRow = keep != nullptr;
  if (keep) w.row = *keep;
  std::string why;
  for (const auto& o : t.owners) {
    if (o.converter < 0) {
      w.addValue(*o.constant);
      continue;
    }
    const ColumnConverter& conv = t.converters[o.converter];
    const int slot = t.converterSlots[o.converter];
    if (!owner.has(slot))
      return fail(conv.mapping().source,
                  fmt::format("the change does not carry key column {}, so the rows it filled in "
                              "{} cannot be found (the table needs REPLICA IDENTITY DEFAULT with a "
                              "primary key, or FULL)",
                              conv.mapping().source, t.mapping->target));
    ColumnView v = owner.get(slot);
    if (!conv.convert(&v, w, why))
      return fail(conv.mapping().source,
                  fmt::format("column {} -> {}.{}: {}", conv.mapping().source, t.mapping->target,
                              conv.mapping().target, why),
                  conv.mapping().onError);
  }
  return true;
}

bool Transformer::partialsForNewTuple(const Change& change, TablePlan& table, const Tuple& now,
                                      const Tuple* old, std::string_view legacy, WriteBatch& out) {
  const bool isUpdate = old != nullptr;
  pendingSets_.clear();
  for (const auto& p : table.partials()) {
    std::string_view k;
    int missing = -1;
    KeyState ks = key(now, p.keySlots, rowKey_, k, missing);
    Match m = where(p, now, old);
    int unknownSlot = ks == KeyState::Absent ? missing : -1;
    if (m == Match::Unknown)
      for (const auto& w : p.where)
        if (!now.has(w.slot)) unknownSlot = w.slot;
    if (unknownSlot >= 0)
      return fail(table.slotName(unknownSlot),
                  isUpdate ? fmt::format("the update omits column {} (an unchanged TOASTed value) "
                                         "that {} (mode: update) needs to find its row; set "
                                         "REPLICA IDENTITY FULL on the source table",
                                         table.slotName(unknownSlot), p.mapping->target)
                           : fmt::format("column {} is not in the change: the source table has "
                                         "no such column (fix the mapping of {})",
                                         table.slotName(unknownSlot), p.mapping->target));
    if (ks == KeyState::Present && m == Match::Yes) {
      Uuid row = (*p.keyIds)(k);
      if (!release(change, p, now, legacy, &row, out)) return false;
      pendingSets_.emplace_back(&p, row);
    } else if (isUpdate) {
      // The source row names no row of this target any more: give back what it filled.
      if (!release(change, p, now, legacy, nullptr, out)) return false;
    }
  }
  for (const auto& [p, row] : pendingSets_) {
    TargetWrite& w = begin(out, WriteOp::SetColumns, *p, change, legacy);
    w.row = row;
    if (!values(*p, now, w)) return false;
  }
  return true;
}

bool Transformer::insert(const Change& change, TablePlan& table, WriteBatch& out) {
  table.resolve(change, false, newPositions_);
  Tuple now{&change, newPositions_.data(), false, true};
  std::string_view legacy;
  int missing = -1;
  KeyState ks = key(now, table.sourceKeySlots(), newKey_, legacy, missing);
  if (ks != KeyState::Present)
    return fail(table.slotName(missing),
                fmt::format("key column {} is {}", table.slotName(missing),
                            ks == KeyState::Null ? "NULL" : "not in the change"));
  failureKey_ = legacy;
  for (const auto& t : table.upserts()) {
    Match m = where(t, now, nullptr);
    if (m == Match::Unknown)
      for (const auto& w : t.where)
        if (!now.has(w.slot))
          return fail(table.slotName(w.slot),
                      fmt::format("column {} (in the where of {}) is not in the change: the "
                                  "source table has no such column",
                                  table.slotName(w.slot), t.mapping->target));
    if (m == Match::Yes && !upsert(change, t, now, legacy, false, out)) return false;
  }
  return partialsForNewTuple(change, table, now, nullptr, legacy, out);
}

bool Transformer::update(const Change& change, TablePlan& table, WriteBatch& out) {
  table.resolve(change, false, newPositions_);
  table.resolve(change, true, oldPositions_);
  Tuple now{&change, newPositions_.data(), false, false};
  Tuple old{&change, oldPositions_.data(), true, false};
  std::string_view legacy, oldLegacy;
  int missing = -1;
  KeyState ks = key(now, table.sourceKeySlots(), newKey_, legacy, missing);
  if (ks != KeyState::Present)
    return fail(table.slotName(missing),
                fmt::format("key column {} of the new row is {}", table.slotName(missing),
                            ks == KeyState::Null ? "NULL" : "not in the change"));
  failureKey_ = legacy;
  // wal2json's identity holds the old key when the key changed (else a copy of the new one).
  const bool oldKeyKnown =
      key(old, table.sourceKeySlots(), oldKey_, oldLegacy, missing) == KeyState::Present;
  const bool keyChanged = oldKeyKnown && oldLegacy != legacy;

  if (keyChanged)
    for (const auto& p : table.partials())
      if (!release(change, p, old, oldLegacy, nullptr, out)) return false;

  for (const auto& t : table.upserts()) {
    std::string_view k = legacy, oldK = oldLegacy;
    if (!t.keyIsSourceKey && key(now, t.keySlots, targetKey_, k, missing) != KeyState::Present)
      return fail(table.slotName(missing),
                  fmt::format("key column {} of {} is NULL or not in the change",
                              table.slotName(missing), t.mapping->target));
    const bool oldKnown =
        t.keyIsSourceKey ? oldKeyKnown
                         : key(old, t.keySlots, targetOldKey_, oldK, missing) == KeyState::Present;
    if (oldKnown && oldK != k) {
      TargetWrite& w = begin(out, WriteOp::Delete, t, change, oldLegacy);
      w.row = (*t.keyIds)(oldK);
    }
    switch (where(t, now, &old)) {
      case Match::Yes:
        if (!upsert(change, t, now, legacy, keyChanged, out)) return false;
        break;
      case Match::No: {
        // Not (or no longer) this target's row: delete it in case it was (harmless if not).
        TargetWrite& w = begin(out, WriteOp::Delete, t, change, legacy);
        w.row = (*t.keyIds)(k);
        break;
      }
      case Match::Unknown:
        for (const auto& w : t.where)
          if (!now.has(w.slot) && !old.has(w.slot))
            return fail(table.slotName(w.slot),
                        fmt::format("the update omits column {} (an unchanged TOASTed value) that "
                                    "the where of {} tests, and the identity does not carry it, "
                                    "so the target row cannot be chosen; set REPLICA IDENTITY "
                                    "FULL on the source table",
                                    table.slotName(w.slot), t.mapping->target));
        break;
    }
  }
  return partialsForNewTuple(change, table, now, &old, legacy, out);
}

bool Transformer::remove(const Change& change, TablePlan& table, WriteBatch& out) {
  table.resolve(change, true, oldPositions_);
  Tuple old{&change, oldPositions_.data(), true, false};
  std::string_view legacy;
  int missing = -1;
  KeyState ks = key(old, table.sourceKeySlots(), oldKey_, legacy, missing);
  if (ks != KeyState::Present)
    return fail(table.slotName(missing),
                fmt::format("the delete's identity does not carry key column {}; the source table "
                            "needs REPLICA IDENTITY DEFAULT with a primary key (or FULL)",
                            table.slotName(missing)));
  failureKey_ = legacy;
  for (const auto& p : table.partials())
    if (!release(change, p, old, legacy, nullptr, out)) return false;
  for (const auto& t : table.upserts()) {
    std::string_view k = legacy;
    if (!t.keyIsSourceKey && key(old, t.keySlots, targetKey_, k, missing) != KeyState::Present)
      return fail(table.slotName(missing),
                  fmt::format("the delete's identity does not carry column {}, the key of {}",
                              table.slotName(missing), t.mapping->target));
    TargetWrite& w = begin(out, WriteOp::Delete, t, change, legacy);
    w.row = (*t.keyIds)(k);
  }
  return true;
}

void Transformer::truncate(const Change& change, TablePlan& table, WriteBatch& out) {
  for (const auto* group : {&table.partials(), &table.upserts()})
    for (const auto& t : *group) {
      TargetWrite& w = begin(out, WriteOp::Truncate, t, change, "");
      w.hasRow = false;
    }
}

}  // namespace pgmorph
