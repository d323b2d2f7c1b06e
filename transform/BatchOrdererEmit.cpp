// BatchOrderer, second half: emitting a segment's entries in the order the target takes —
// tables parent-first, rows after the rows they name, circles written NULL then fixed (or
// deferred), partial writes in waves, deletes child-first after their unlinks (the rules are in
// BatchOrderer.h).
#include <algorithm>
#include <climits>
#include <functional>
#include <queue>
#include <stdexcept>

#include "transform/BatchOrderer.h"
#include "transform/BatchOrdererState.h"

namespace pgmorph {

using ordering::copyHeader;
using ordering::copyValue;
using ordering::isPartial;

void BatchOrderer::emitEntry(int entry) {
  const Entry& e = entries_[entry];
  out_.writes.push_back({e.write, e.source});
}

void BatchOrderer::emitNulledUpsert(const Entry& e, const std::vector<std::size_t>& nulled) {
  TargetWrite& d = derived();
  copyHeader(d, *e.write);
  auto values = e.write->values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::find(nulled.begin(), nulled.end(), i) != nulled.end())
      d.addNull();
    else
      copyValue(d, *e.write, values[i]);
  }
  out_.writes.push_back({&d, e.source});
}

void BatchOrderer::emitFix(const Entry& e, const std::vector<std::size_t>& columns) {
  TargetWrite& d = derived();
  copyHeader(d, *e.write);
  d.op = WriteOp::SetColumns;
  auto values = e.write->values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::find(columns.begin(), columns.end(), i) != columns.end())
      copyValue(d, *e.write, values[i]);
    else
      d.addAbsent();
  }
  ++out_.fixes;
  out_.writes.push_back({&d, e.source});
}

namespace {
void addDeferred(OrderedSegment& seg, const ForeignKey* fk) {
  if (std::find(seg.deferred.begin(), seg.deferred.end(), fk) == seg.deferred.end())
    seg.deferred.push_back(fk);
}
}  // namespace

std::size_t BatchOrderer::emitUnlinks(const std::vector<int>& deletes, OrderedSegment& seg) {
  together_.clear();
  std::size_t count = 0;
  for (int e : deletes) count += entries_[e].op == WriteOp::Delete ? 1 : 0;
  // One deleted row alone cannot be in a circle with another deleted row (a row that names
  // itself is deleted with its reference).
  if (count < 2) return 0;
  std::size_t emitted = 0;
  std::vector<std::size_t> columns;
  for (int e : deletes) {
    const Entry& d = entries_[e];
    if (d.op != WriteOp::Delete) continue;
    const WritePlan& plan = *d.plan;
    columns.clear();
    for (const ForeignKey* fk : tables_[d.table].circleRefs) {
      // CASCADE, SET NULL and SET DEFAULT do to the other row what its own delete or
      // update would: any order lands.
      if (fk->onDelete == FkAction::Cascade || fk->onDelete == FkAction::SetNull ||
          fk->onDelete == FkAction::SetDefault)
        continue;
      // NO ACTION may wait for the segment's end when the target allows it (RESTRICT never
      // waits, even when declared DEFERRABLE).
      if (fk->deferrable && fk->onDelete == FkAction::NoAction) {
        addDeferred(seg, fk);
        continue;
      }
      if (!fk->nullable) {
        if (fk->child == fk->parent && fk->onDelete == FkAction::NoAction &&
            std::find(together_.begin(), together_.end(), &plan) == together_.end())
          together_.push_back(&plan);
        continue;
      }
      auto c = std::find(plan.columns.begin(), plan.columns.end(), fk->childColumns[0]);
      // A column no plan of this delete writes is not pgmorph's to clear.
      if (c == plan.columns.end()) continue;
      std::size_t column = static_cast<std::size_t>(c - plan.columns.begin());
      if (std::find(columns.begin(), columns.end(), column) == columns.end())
        columns.push_back(column);
    }
    if (columns.empty()) continue;
    TargetWrite& u = derived();
    copyHeader(u, *d.write);
    u.op = WriteOp::SetColumns;
    u.rowOptional = true;
    for (std::size_t i = 0; i < plan.columns.size(); ++i) {
      if (std::find(columns.begin(), columns.end(), i) != columns.end())
        u.addNull();
      else
        u.addAbsent();
    }
    out_.writes.push_back({&u, d.source});
    ++out_.unlinks;
    ++emitted;
  }
  return emitted;
}

namespace {
// Upserts that one multi-row statement can carry: same plan, same absent (unchanged TOAST)
// columns. The id slot is written from the row whatever its state.
bool sameUpsertShape(const TargetWrite& a, const TargetWrite& b) {
  if (a.plan != b.plan || a.fresh != b.fresh) return false;
  auto x = a.values(), y = b.values();
  if (x.size() != y.size()) return false;
  for (std::size_t i = 1; i < x.size(); ++i)
    if ((x[i].state == ValueState::Absent) != (y[i].state == ValueState::Absent)) return false;
  return true;
}
}  // namespace

void BatchOrderer::emitShapeGroups(const std::vector<int>& list) {
  // Distinct rows of one table commute (FKs point at other tables' rows, which are written
  // before or after the whole table), so they go grouped by shape, each group in source
  // order: an update that leaves a TOASTed column out would otherwise cut the run of full
  // rows around it, and each piece is a statement of its own. The same row twice (two
  // plans writing one table) keeps source order.
  groupRows_.clear();
  bool distinct = true;
  for (int e : list) distinct = distinct && groupRows_.insert(entries_[e].row).second;
  if (!distinct) {
    for (int e : list) emitEntry(e);
    return;
  }
  groupDone_.assign(list.size(), 0);
  for (std::size_t j = 0; j < list.size(); ++j) {
    if (groupDone_[j]) continue;
    const TargetWrite& head = *entries_[list[j]].write;
    for (std::size_t k = j; k < list.size(); ++k)
      if (!groupDone_[k] && sameUpsertShape(head, *entries_[list[k]].write)) {
        groupDone_[k] = 1;
        emitEntry(list[k]);
      }
  }
}

void BatchOrderer::emitUpserts(Table& t, OrderedSegment& seg) {
  const auto& list = t.upserts;
  if (list.size() < 2) {
    for (int e : list) emitEntry(e);
    return;
  }
  if (t.selfRefs.empty()) {
    emitShapeGroups(list);
    return;
  }
  emitLinked(list, seg);
}

void BatchOrderer::emitLinked(const std::vector<int>& list, OrderedSegment& seg) {
  // Rows that reference another row upserted in this segment (through a reference onto their
  // own table or onto another table of their cycle) go after it.
  const std::size_t n = list.size();
  struct Key {
    int table;
    Uuid row;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return UuidHash{}(k.row) ^ (static_cast<std::size_t>(k.table) * 0x9E3779B97F4A7C15ull);
    }
  };
  std::unordered_map<Key, std::size_t, KeyHash> position;
  position.reserve(n);
  for (std::size_t j = 0; j < n; ++j)
    position.emplace(Key{entries_[list[j]].table, entries_[list[j]].row}, j);
  struct Ref {
    std::size_t parent;
    std::size_t column;
    const ForeignKey* fk;
  };
  std::vector<std::vector<Ref>> refs(n);
  std::vector<std::vector<std::size_t>> children(n);
  std::vector<int> waiting(n, 0);
  for (std::size_t j = 0; j < n; ++j) {
    const Entry& e = entries_[list[j]];
    const WritePlan& plan = *e.plan;
    auto values = e.write->values();
    for (const ForeignKey* fk : tables_[e.table].circleRefs) {
      auto parentTable = tableIndex_.find(fk->parent);
      if (parentTable == tableIndex_.end()) continue;  // nothing of it in this batch
      auto c = std::find(plan.columns.begin(), plan.columns.end(), fk->childColumns[0]);
      std::size_t column = static_cast<std::size_t>(c - plan.columns.begin());
      if (c == plan.columns.end() || column >= values.size() ||
          values[column].state != ValueState::Present)
        continue;
      Uuid parent;
      try {
        parent = Uuid::parse(e.write->text(values[column]));
      } catch (const std::invalid_argument&) {
        continue;  // not an id: the target will say what is wrong with it
      }
      auto it = position.find(Key{parentTable->second, parent});
      if (it == position.end() || it->second == j) continue;
      // A reference by the parent's id column (what every plan's rows are keyed by).
      if (fk->parentColumns[0] != entries_[list[it->second]].plan->idColumn) continue;
      refs[j].push_back({it->second, column, fk});
      children[it->second].push_back(j);
      ++waiting[j];
    }
  }
  // Kahn's algorithm, always taking the earliest row in source order that is ready.
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t j = 0; j < n; ++j)
    if (waiting[j] == 0) ready.push(j);
  std::vector<char> written(n, 0);
  while (!ready.empty()) {
    std::size_t j = ready.top();
    ready.pop();
    written[j] = 1;
    emitEntry(list[j]);
    for (std::size_t c : children[j])
      if (--waiting[c] == 0) ready.push(c);
  }
  // What is left references itself in a circle (or hangs below one). A deferrable reference
  // is deferred for the segment; any other is written as NULL first and fixed afterwards.
  std::vector<std::pair<int, std::vector<std::size_t>>> fixes;
  for (std::size_t j = 0; j < n; ++j) {
    if (written[j]) continue;
    std::vector<std::size_t> nulled;
    for (const Ref& r : refs[j]) {
      if (written[r.parent]) continue;
      if (r.fk->deferrable)
        addDeferred(seg, r.fk);
      else if (std::find(nulled.begin(), nulled.end(), r.column) == nulled.end())
        nulled.push_back(r.column);
    }
    if (nulled.empty()) {
      emitEntry(list[j]);
    } else {
      emitNulledUpsert(entries_[list[j]], nulled);
      fixes.emplace_back(list[j], std::move(nulled));
    }
  }
  for (const auto& [entry, columns] : fixes) emitFix(entries_[entry], columns);
}

void BatchOrderer::finishSegment() {
  OrderedSegment seg;
  seg.begin = out_.writes.size();
  // Live entries by table; entries_ is in order of first appearance, i.e. source order.
  for (int i = 0; i < static_cast<int>(entries_.size()); ++i) {
    const Entry& e = entries_[i];
    if (!e.live) continue;
    Table& t = tables_[e.table];
    if (e.op == WriteOp::Upsert)
      t.upserts.push_back(i);
    else if (isPartial(e.op))
      t.partials.push_back(i);
    else
      t.deletes.push_back(i);  // Delete, Truncate
  }
  // Tables parent-first; those the graph does not know last, by first appearance.
  std::vector<int> order(touched_.begin(), touched_.end());
  auto rankOf = [&](int ti) { return tables_[ti].rank < 0 ? INT_MAX : tables_[ti].rank; };
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    if (rankOf(a) != rankOf(b)) return rankOf(a) < rankOf(b);
    return tables_[a].firstSeen < tables_[b].firstSeen;
  });
  // Groups of tables sharing one rank: the members of one FK cycle.
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i + 1;
    if (tables_[order[i]].rank >= 0)
      while (j < order.size() && tables_[order[j]].rank == tables_[order[i]].rank) ++j;
    groups.emplace_back(i, j);
    i = j;
  }
  std::vector<int> merged;
  auto emitInSourceOrder = [&](std::vector<int>& entries) {
    std::sort(entries.begin(), entries.end());
    for (int e : entries) emitEntry(e);
  };

  for (auto [from, to] : groups) {
    if (to - from == 1) {
      Table& t = tables_[order[from]];
      if (t.mixed) {
        merged.assign(t.upserts.begin(), t.upserts.end());
        merged.insert(merged.end(), t.partials.begin(), t.partials.end());
        emitInSourceOrder(merged);
      } else {
        emitUpserts(t, seg);
        emitPartials(t);
      }
      continue;
    }
    // A cycle between tables: keep the order the source accepted, and defer the cycle's
    // constraints when they allow it and more than one of its tables is written. With upserts
    // alone (no partial writes to keep in step), rows go parents first across the cycle's
    // tables, and rows that name each other in a circle are written with a non-deferrable
    // reference NULL and fixed afterwards (write-then-fix, as for a self-reference).
    merged.clear();
    int written = 0;
    bool partials = false;
    for (std::size_t k = from; k < to; ++k) {
      Table& t = tables_[order[k]];
      if (!t.upserts.empty() || !t.partials.empty()) ++written;
      partials = partials || !t.partials.empty();
      merged.insert(merged.end(), t.upserts.begin(), t.upserts.end());
      merged.insert(merged.end(), t.partials.begin(), t.partials.end());
    }
    if (partials) {
      emitInSourceOrder(merged);
    } else {
      std::sort(merged.begin(), merged.end());
      emitLinked(merged, seg);
    }
    const FkCycle* cycle = tables_[order[from]].cycle;
    if (written > 1 && cycle && cycle->allDeferrable) {
      auto inCycle = [&](const std::string& table) {
        return std::find(cycle->tables.begin(), cycle->tables.end(), table) != cycle->tables.end();
      };
      for (const auto& fk : graph_.foreignKeys())
        if (fk.child != fk.parent && inCycle(fk.child) && inCycle(fk.parent)) addDeferred(seg, &fk);
    }
  }
  for (auto g = groups.rbegin(); g != groups.rend(); ++g) {
    merged.clear();
    for (std::size_t k = g->first; k < g->second; ++k) {
      const Table& t = tables_[order[k]];
      merged.insert(merged.end(), t.deletes.begin(), t.deletes.end());
    }
    std::sort(merged.begin(), merged.end());
    emitUnlinks(merged, seg);
    std::size_t from = out_.writes.size();
    emitInSourceOrder(merged);
    // A NOT NULL circle that cannot be unlinked nor deferred: its table's deletes go as one
    // statement (NO ACTION is checked at the statement's end).
    for (std::size_t k = from; k < out_.writes.size(); ++k)
      if (std::find(together_.begin(), together_.end(), out_.writes[k].write->plan) !=
          together_.end())
        out_.writes[k].together = true;
  }
  seg.end = out_.writes.size();
  if (seg.end > seg.begin) out_.segments.push_back(std::move(seg));
}

}  // namespace pgmorph
