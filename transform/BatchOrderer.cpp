// BatchOrderer, first half: coalescing a batch into per-row entries and cutting it into
// segments (BatchOrdererEmit.cpp emits each segment in the target's order).
#include "transform/BatchOrderer.h"

#include <algorithm>
#include <stdexcept>

#include "transform/BatchOrdererState.h"

namespace pgmorph {

using ordering::copyHeader;
using ordering::copyValue;

std::size_t BatchOrderer::RowKeyHash::operator()(const RowKey& k) const noexcept {
  return UuidHash{}(k.row) ^ (static_cast<std::size_t>(k.table) * 0x9E3779B97F4A7C15ull);
}

BatchOrderer::BatchOrderer(const FkGraph& graph) : graph_(graph) {}
BatchOrderer::~BatchOrderer() = default;

namespace {

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
  std::string name = plan.targetName();
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

void BatchOrderer::merge(Entry& e, const TargetWrite& later, std::size_t index) {
  const TargetWrite& base = *e.write;
  scratch_.clear();
  copyHeader(scratch_, later);
  // The row is new to the target when the first write merged here inserted it (an insert
  // and then updates: still a row the target has not seen). An insert after an update needs
  // a delete between them, and a delete starts a new segment (needsBarrier).
  scratch_.fresh = base.fresh;
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