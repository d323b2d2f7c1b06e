#include "transform/BatchOrderer.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <queue>
#include <stdexcept>

namespace pgmorph {

struct BatchOrderer::Entry {
  WriteOp op = WriteOp::Upsert;
  const WritePlan* plan = nullptr;
  int table = 0;
  Uuid row;
  const TargetWrite* write = nullptr;  // what will be written (input or pool write)
  TargetWrite* owned = nullptr;        // the pool write, once values were merged
  std::size_t source = 0;              // last input write folded into this entry
  int prevSameRow = -1;                // previous entry of the same row (chain)
  // Counters of the table when the entry was made: merging into it is only allowed while
  // nothing that must stay ordered against it happened since (see BatchOrderer.h).
  std::uint32_t releaseEpoch = 0, partialEpoch = 0, upsertEpoch = 0;
  bool live = true;
};

struct BatchOrderer::Table {
  std::string name;  // "schema.table"
  int rank = -1;     // FkGraph::rank, -1 when the graph does not know it
  int firstSeen = 0;
  std::vector<const ForeignKey*> selfRefs;  // single-column FKs onto the table itself
  const FkCycle* cycle = nullptr;
  // Single-column FKs onto the table itself or onto another table of its cycle: the
  // references that can tie rows deleted in one segment to each other (see emitUnlinks).
  std::vector<const ForeignKey*> circleRefs;

  // Per segment.
  bool touched = false;
  bool mixed = false;  // an upsert plan and a partial plan share a column
  std::uint32_t releaseEpoch = 0, partialEpoch = 0, upsertEpoch = 0;
  std::vector<const WritePlan*> upsertPlans, partialPlans;
  std::vector<int> upserts, partials, deletes;  // live entries, source order

  void resetSegment() {
    touched = mixed = false;
    releaseEpoch = partialEpoch = upsertEpoch = 0;
    upsertPlans.clear();
    partialPlans.clear();
    upserts.clear();
    partials.clear();
    deletes.clear();
  }
};

std::size_t BatchOrderer::RowKeyHash::operator()(const RowKey& k) const noexcept {
  return UuidHash{}(k.row) ^ (static_cast<std::size_t>(k.table) * 0x9E3779B97F4A7C15ull);
}

BatchOrderer::BatchOrderer(const FkGraph& graph) : graph_(graph) {}
BatchOrderer::~BatchOrderer() = default;

namespace {

bool isPartial(WriteOp op) {
  return op == WriteOp::SetColumns || op == WriteOp::Release;
}

// Do an upsert plan and a partial plan of one table write a common column (besides the id)?
bool shareColumn(const WritePlan& upsert, const WritePlan& partial) {
  for (std::size_t i = 0; i < upsert.columns.size(); ++i) {
    if (upsert.columns[i] == upsert.idColumn) continue;
    if (std::find(partial.columns.begin(), partial.columns.end(), upsert.columns[i]) !=
        partial.columns.end())
      return true;
  }
  return false;
}

}  // namespace

int BatchOrderer::tableOf(const WritePlan& plan) {
  if (auto it = planTable_.find(&plan); it != planTable_.end()) return it->second;
  std::string name = plan.targetSchema + "." + plan.targetTable;
  int index;
  if (auto it = tableIndex_.find(name); it != tableIndex_.end()) {
    index = it->second;
  } else {
    index = static_cast<int>(tables_.size());
    Table t;
    t.name = name;
    t.rank = graph_.rank(name);
    t.firstSeen = index;
    for (const auto& fk : graph_.selfReferences())
      if (fk.child == name && fk.childColumns.size() == 1 && fk.parentColumns.size() == 1)
        t.selfRefs.push_back(&fk);
    for (const auto& c : graph_.cycles())
      if (std::find(c.tables.begin(), c.tables.end(), name) != c.tables.end()) t.cycle = &c;
    t.circleRefs = t.selfRefs;
    if (t.cycle)
      for (const auto& fk : graph_.foreignKeys())
        if (fk.child == name && fk.parent != name && fk.childColumns.size() == 1 &&
            std::find(t.cycle->tables.begin(), t.cycle->tables.end(), fk.parent) !=
                t.cycle->tables.end())
          t.circleRefs.push_back(&fk);
    tables_.push_back(std::move(t));
    tableIndex_.emplace(std::move(name), index);
  }
  planTable_.emplace(&plan, index);
  return index;
}

void BatchOrderer::notePlan(Table& t, const WritePlan& plan, bool partial) {
  auto& mine = partial ? t.partialPlans : t.upsertPlans;
  if (std::find(mine.begin(), mine.end(), &plan) != mine.end()) return;
  mine.push_back(&plan);
  for (const WritePlan* other : partial ? t.upsertPlans : t.partialPlans)
    if (partial ? shareColumn(*other, plan) : shareColumn(plan, *other)) t.mixed = true;
}

BatchOrderer::Entry* BatchOrderer::findLive(const RowKey& key, WriteOp op, const WritePlan* plan) {
  auto it = rowHead_.find(key);
  for (int i = it == rowHead_.end() ? -1 : it->second; i >= 0; i = entries_[i].prevSameRow) {
    Entry& e = entries_[i];
    if (e.live && e.op == op && (plan == nullptr || e.plan == plan)) return &e;
  }
  return nullptr;
}

TargetWrite& BatchOrderer::derived() {
  if (poolUsed_ == pool_.size()) pool_.emplace_back();
  TargetWrite& w = pool_[poolUsed_++];
  w.clear();
  return w;
}

namespace {

// Copies the header of `from` (op, plan, row, position, legacy key) into an empty write.
void copyHeader(TargetWrite& to, const TargetWrite& from) {
  to.op = from.op;
  to.plan = from.plan;
  to.row = from.row;
  to.hasRow = from.hasRow;
  to.lsn = from.lsn;
  to.setLegacyKey(from.legacyKey());
}

void copyValue(TargetWrite& to, const TargetWrite& from, const WriteValue& v) {
  switch (v.state) {
    case ValueState::Present:
      to.addValue(from.text(v));
      break;
    case ValueState::Null:
      to.addNull();
      break;
    case ValueState::Absent:
      to.addAbsent();
      break;
  }
}

}  // namespace

void BatchOrderer::merge(Entry& e, const TargetWrite& later, std::size_t index) {
  const TargetWrite& base = *e.write;
  scratch_.clear();
  copyHeader(scratch_, later);
  auto a = base.values(), b = later.values();
  if (a.size() != b.size()) {
    // Same plan means same layout; if not, the later write is all we can trust.
    for (const auto& v : b) copyValue(scratch_, later, v);
  } else {
    for (std::size_t i = 0; i < b.size(); ++i) {
      // A later Absent (unchanged TOAST) leaves the earlier value in place.
      if (b[i].state == ValueState::Absent)
        copyValue(scratch_, base, a[i]);
      else
        copyValue(scratch_, later, b[i]);
    }
  }
  if (!e.owned) e.owned = &derived();
  std::swap(*e.owned, scratch_);
  e.write = e.owned;
  e.source = index;
}

bool BatchOrderer::needsBarrier(const TargetWrite& w, std::size_t index) {
  // A truncate runs alone: it ends the segment before it and the one it makes.
  if (w.op == WriteOp::Truncate || truncateSegment_) return index > segmentStart_;
  if (w.op != WriteOp::Upsert && w.op != WriteOp::SetColumns) return false;
  // A write that brings back (or completes) a row this segment deletes must see the delete
  // done first: the delete goes to the end of its segment, so the row starts a new one.
  return findLive(RowKey{tableOf(*w.plan), w.row}, WriteOp::Delete, nullptr) != nullptr;
}

void BatchOrderer::add(const TargetWrite& w, std::size_t index) {
  int ti = tableOf(*w.plan);
  Table& t = tables_[ti];
  if (!t.touched) {
    t.touched = true;
    touched_.push_back(ti);
  }
  RowKey key{ti, w.row};
  auto newEntry = [&](bool chained) {
    Entry e;
    e.op = w.op;
    e.plan = w.plan;
    e.table = ti;
    e.row = w.row;
    e.write = &w;
    e.source = index;
    e.releaseEpoch = t.releaseEpoch;
    e.partialEpoch = t.partialEpoch;
    e.upsertEpoch = t.upsertEpoch;
    int at = static_cast<int>(entries_.size());
    if (chained) {
      auto [it, fresh] = rowHead_.try_emplace(key, at);
      if (!fresh) {
        e.prevSameRow = it->second;
        it->second = at;
      }
    }
    entries_.push_back(std::move(e));
  };

  switch (w.op) {
    case WriteOp::Upsert: {
      notePlan(t, *w.plan, false);
      // Only into the row's latest upsert: merging past another plan's write of the row
      // would reorder the two.
      Entry* e = findLive(key, WriteOp::Upsert, nullptr);
      if (e && e->plan == w.plan && (!t.mixed || e->partialEpoch == t.partialEpoch)) {
        merge(*e, w, index);
        ++out_.folded;
      } else {
        newEntry(true);
      }
      ++t.upsertEpoch;
      return;
    }
    case WriteOp::SetColumns: {
      notePlan(t, *w.plan, true);
      Entry* e = findLive(key, WriteOp::SetColumns, nullptr);
      if (e && e->plan == w.plan && e->releaseEpoch == t.releaseEpoch &&
          (!t.mixed || e->upsertEpoch == t.upsertEpoch)) {
        merge(*e, w, index);
        ++out_.folded;
      } else {
        newEntry(true);
      }
      ++t.partialEpoch;
      return;
    }
    case WriteOp::Release:
      notePlan(t, *w.plan, true);
      newEntry(false);
      ++t.releaseEpoch;
      ++t.partialEpoch;
      return;
    case WriteOp::Delete: {
      // The row ends deleted: the values set-columns wrote into it earlier in the segment
      // need not be written. Its upsert stays: writes in between may reference the row (a
      // new order's jaws, files and payments, then the order deleted), and they run before
      // the deletes; without the row they would be refused.
      auto it = rowHead_.find(key);
      Entry* kept = nullptr;
      for (int i = it == rowHead_.end() ? -1 : it->second; i >= 0; i = entries_[i].prevSameRow) {
        Entry& e = entries_[i];
        if (!e.live) continue;
        if (e.op == WriteOp::Delete) {
          kept = &e;
        } else if (e.op == WriteOp::SetColumns) {
          e.live = false;
          ++out_.dropped;
        }
      }
      if (kept) {
        kept->source = index;
        kept->write = &w;
        ++out_.folded;
      } else {
        newEntry(true);
      }
      return;
    }
    case WriteOp::Truncate:
      truncateSegment_ = true;
      newEntry(false);
      return;
  }
}

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
  if (a.plan != b.plan) return false;
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

namespace {

// The owner values a partial write is about, as one key: for a Release, the values its
// predicate matches; for a SetColumns, the owner columns' values it writes (so that a Release
// with the same key would match the row it fills). False when a SetColumns leaves one of them
// unwritten: what the row then holds is not known here.
bool ownerKey(const TargetWrite& w, const std::vector<std::string>& owners, std::string& key) {
  key.clear();
  auto values = w.values();
  const WritePlan& plan = *w.plan;
  for (std::size_t k = 0; k < owners.size(); ++k) {
    const WriteValue* v = nullptr;
    if (w.op == WriteOp::Release) {
      if (k < values.size()) v = &values[k];
    } else {
      auto c = std::find(plan.columns.begin(), plan.columns.end(), owners[k]);
      std::size_t i = static_cast<std::size_t>(c - plan.columns.begin());
      if (c != plan.columns.end() && i < values.size()) v = &values[i];
    }
    if (!v || v->state == ValueState::Absent) return false;
    // Length-prefixed, so that no two different value lists make the same key.
    std::string_view text = v->state == ValueState::Null ? std::string_view() : w.text(*v);
    key += std::to_string(v->state == ValueState::Null ? -1 : static_cast<long>(text.size()));
    key += ':';
    key += text;
  }
  return true;
}

}  // namespace

void BatchOrderer::emitPartials(Table& t) {
  const auto& list = t.partials;
  if (list.size() < 2) {
    for (int e : list) emitEntry(e);
    return;
  }
  // Waves: partial writes that commute are written together, so that each plan's releases and
  // set-columns of one wave become one multi-row statement each, instead of alternating one
  // by one as the transformer emits them (release, release, set, set per source row). Two
  // partial writes do not commute when
  //  - both set the same row (the later one wins), or
  //  - a set-columns fills a row with the owner values that a later release matches, and that
  //    release does not keep that row (the release would clear what the set wrote).
  // A later write goes in a later wave than an earlier one it does not commute with. A
  // release followed by a set-columns it would affect may share a wave: inside a wave,
  // releases run first. Releases always commute with each other.
  // The owner key needs one owner-column layout for the table; with several, every release
  // waits for every earlier set-columns (still correct, only fewer rows per statement).
  const std::vector<std::string>& owners = entries_[list[0]].plan->ownerColumns;
  bool oneLayout = true;
  for (const WritePlan* p : t.partialPlans) oneLayout = oneLayout && p->ownerColumns == owners;

  struct SetsOfKey {
    int releaseWave = -1;                    // highest wave of a release with this key
    std::vector<std::pair<Uuid, int>> sets;  // rows set with this key, and their waves
  };
  std::unordered_map<std::string, SetsOfKey> byKey;
  std::unordered_map<Uuid, int, UuidHash> setWave;  // row -> wave of its last set-columns
  int maxRelease = -1, maxSet = -1, maxUnknownSet = -1, waves = 0;
  std::vector<int> wave(list.size(), 0);
  std::string key;
  for (std::size_t j = 0; j < list.size(); ++j) {
    const Entry& e = entries_[list[j]];
    const TargetWrite& w = *e.write;
    bool known = oneLayout && ownerKey(w, owners, key);
    int at = 0;
    if (e.op == WriteOp::Release) {
      if (!known) {
        at = maxSet + 1;
      } else {
        at = maxUnknownSet + 1;
        if (auto it = byKey.find(key); it != byKey.end())
          for (const auto& [row, setAt] : it->second.sets)
            if (!w.hasRow || row != w.row) at = std::max(at, setAt + 1);
        auto& k = byKey[key];
        k.releaseWave = std::max(k.releaseWave, at);
      }
      maxRelease = std::max(maxRelease, at);
    } else {
      if (auto it = setWave.find(e.row); it != setWave.end()) at = it->second + 1;
      if (!known) {
        at = std::max(at, maxRelease);
        maxUnknownSet = std::max(maxUnknownSet, at);
      } else {
        auto& k = byKey[key];
        at = std::max(at, k.releaseWave);
        k.sets.emplace_back(e.row, at);
      }
      setWave[e.row] = at;
      maxSet = std::max(maxSet, at);
    }
    wave[j] = at;
    waves = std::max(waves, at + 1);
  }
  // Per wave: releases, then set-columns; each grouped by plan (in order of first
  // appearance), source order inside a plan.
  for (int v = 0; v < waves; ++v)
    for (WriteOp op : {WriteOp::Release, WriteOp::SetColumns})
      for (const WritePlan* plan : t.partialPlans)
        for (std::size_t j = 0; j < list.size(); ++j) {
          const Entry& e = entries_[list[j]];
          if (wave[j] == v && e.op == op && e.plan == plan) emitEntry(list[j]);
        }
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

void BatchOrderer::startSegment(std::size_t index) {
  for (int ti : touched_) tables_[ti].resetSegment();
  touched_.clear();
  entries_.clear();
  rowHead_.clear();
  segmentStart_ = index;
  truncateSegment_ = false;
}

const OrderedBatch& BatchOrderer::order(std::span<const TargetWrite> writes) {
  out_.writes.clear();
  out_.segments.clear();
  out_.folded = out_.dropped = out_.fixes = out_.unlinks = 0;
  planTable_.clear();
  tableIndex_.clear();
  tables_.clear();
  touched_.clear();
  poolUsed_ = 0;
  startSegment(0);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const TargetWrite& w = writes[i];
    if (!w.plan)
      throw std::invalid_argument("BatchOrderer: write " + std::to_string(i) + " has no plan");
    if (needsBarrier(w, i)) {
      finishSegment();
      startSegment(i);
    }
    add(w, i);
  }
  if (!entries_.empty()) finishSegment();
  return out_;
}

}  // namespace pgmorph
