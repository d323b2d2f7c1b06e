// Transformer, what each kind of change becomes (see Transformer.h): insert, update, delete
// and truncate, and the upserts, releases and fill-ins of partial targets they are made of.
// Transformer.cpp holds the plans, the dispatch and what every op shares (keys, where,
// values).
#include <fmt/format.h>

#include <algorithm>

#include "transform/Transformer.h"

namespace pgmorph {

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
  w.fresh = change.kind == ChangeKind::Insert;
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
