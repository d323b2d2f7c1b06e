#include "sink/ParentGate.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "cdc/model/Errors.h"
#include "sink/ParkedWriteCodec.h"

namespace pgmorph {

ParentGate::Status ParentGate::roundStatus(const WriteGroups& groups, int table, const Uuid& id) {
  const long truncated = groups.lastTruncate(table);
  const WriteGroups::Event* ev = groups.lastEvent(table, id);
  if (ev && static_cast<long>(ev->index) > truncated) {
    if (ev->group < 0) return Status::Missing;
    if (groups[ev->group].state == WriteGroup::State::Live) return Status::Present;
    // Its upsert is parked: the target may still have the row as it was.
  }
  if (truncated >= 0) return Status::Missing;
  return Status::Unknown;
}

ParentGate::Status ParentGate::status(const WriteGroups& groups, int table, const Uuid& id) const {
  if (Status s = roundStatus(groups, table, id); s != Status::Unknown) return s;
  if (checker_.knownPresent(table, id)) return Status::Present;
  auto db = db_.find(RowKey{table, id});
  if (db != db_.end()) return db->second ? Status::Present : Status::Missing;
  return Status::Unknown;
}

void ParentGate::collectRefs(std::span<const TargetWrite> writes, WriteGroups& groups) const {
  // The references of each group's net effect: the last value each column is given.
  for (WriteGroup& g : groups.all()) {
    g.refs.clear();
    for (const ParentRef& ref : checker_.refs(*g.plan)) {
      for (auto it = g.writes.rbegin(); it != g.writes.rend(); ++it) {
        ValueState s;
        std::string_view text = valueOf(writes[*it], ref.column, s);
        if (s == ValueState::Absent) continue;
        if (s == ValueState::Present) {
          try {
            g.refs.push_back(WriteGroup::Ref{&ref, Uuid::parse(text), std::string(text)});
          } catch (const std::invalid_argument&) {
            // Not a UUID: nothing to look up; the target decides.
          }
        }
        break;
      }
    }
    if (g.op == WriteOp::SetColumns)
      g.refs.push_back(WriteGroup::Ref{&checker_.ownRow(*g.plan), g.row, g.row.str()});
  }
}

bool ParentGate::targetRefusesMissing(std::span<const TargetWrite> writes, const WriteGroup& g,
                                      const ParentRef& r) {
  if (r.column != ParentRef::kOwnRow) return r.checkedByTarget;
  // A SetColumns that finds no row is reported by the writer (02000), unless it may miss.
  return std::none_of(g.writes.begin(), g.writes.end(),
                      [&](std::size_t i) { return writes[i].rowOptional; });
}

void ParentGate::check(PgConnection& target, std::span<const TargetWrite> writes,
                       WriteGroups& groups, bool assume) {
  db_.clear();
  assumed_ = false;
  collectRefs(writes, groups);
  // To a fixpoint: a group parked for a missing parent makes its own row missing for the
  // groups that reference it (chains, in any order of the batch).
  std::unordered_map<int, std::vector<Uuid>> need;
  std::unordered_set<RowKey, RowKeyHash> asked;
  std::vector<char> present;
  for (;;) {
    need.clear();
    asked.clear();
    bool changed = false;
    for (WriteGroup& g : groups.all()) {
      if (g.state != WriteGroup::State::Live) continue;
      for (const WriteGroup::Ref& r : g.refs) {
        Status s = status(groups, r.ref->parent, r.id);
        if (s == Status::Unknown) {
          if (assume && targetRefusesMissing(writes, g, *r.ref)) {
            assumed_ = true;
            continue;
          }
          if (asked.insert(RowKey{r.ref->parent, r.id}).second) need[r.ref->parent].push_back(r.id);
          continue;
        }
        if (s == Status::Present) continue;
        if (r.ref->onMissing == RowPolicy::Fail) {
          const TargetWrite& w = writes[g.writes.back()];
          throw PgmorphError(ErrorClass::Operator,
                             describeMissing(g, w, *r.ref, r.id, RowPolicy::Fail));
        }
        if (r.ref->onMissing == RowPolicy::Null && r.ref->column != ParentRef::kOwnRow) {
          bool known = std::any_of(g.nulled.begin(), g.nulled.end(),
                                   [&](const WriteGroup::Nulled& n) { return n.ref == r.ref; });
          if (!known) g.nulled.push_back(WriteGroup::Nulled{r.ref, r.id, r.text});
          continue;
        }
        // A reference to fill in whose own row is gone (deleted, truncated): nothing to fill.
        bool fill = g.op == WriteOp::SetColumns && upsertPlan(*g.plan);
        g.state = fill && r.ref->column == ParentRef::kOwnRow ? WriteGroup::State::Dropped
                                                              : WriteGroup::State::Parked;
        g.missing = r.ref;
        g.missingId = r.id;
        changed = true;
        break;
      }
    }
    if (!need.empty()) {
      for (auto& [table, ids] : need) {
        checker_.lookup(target, table, ids, present);
        for (std::size_t i = 0; i < ids.size(); ++i) db_[RowKey{table, ids[i]}] = present[i] != 0;
      }
      continue;
    }
    if (!changed) break;
  }
  for (WriteGroup& g : groups.all())
    if (g.state != WriteGroup::State::Live) g.nulled.clear();
}

bool ParentGate::settledWithoutTarget(std::span<const TargetWrite> writes, WriteGroups& groups,
                                      bool& assumed) const {
  assumed = false;
  collectRefs(writes, groups);
  for (const WriteGroup& g : groups.all()) {
    if (g.state != WriteGroup::State::Live) return false;
    for (const WriteGroup::Ref& r : g.refs) {
      // Not the cache: the batch in flight may still delete a row it holds, and what that
      // batch does to the cache is only known once its results are read.
      Status s = roundStatus(groups, r.ref->parent, r.id);
      if (s == Status::Present) continue;
      if (s == Status::Missing || !targetRefusesMissing(writes, g, *r.ref)) return false;
      assumed = true;
    }
  }
  return true;
}

void ParentGate::decideDrops(std::span<const TargetWrite> writes, WriteGroups& groups) const {
  for (WriteGroup& g : groups.all()) {
    if (g.state != WriteGroup::State::Parked) continue;
    const std::size_t last = g.writes.back();
    // The row ends deleted on the source: nothing to keep for it.
    if (groups.goneAfter(g.table, g.row, last)) {
      g.state = WriteGroup::State::Dropped;
      continue;
    }
    if (g.op != WriteOp::SetColumns || upsertPlan(*g.plan)) continue;
    // A later release that stops naming this row (the order now names another jaw).
    for (std::size_t r : groups.releases()) {
      const TargetWrite& rel = writes[r];
      if (r < last || rel.plan != g.plan || (rel.hasRow && rel.row == g.row)) continue;
      bool match = true;
      auto owners = rel.values();
      for (std::size_t k = 0; k < g.plan->ownerColumns.size() && match; ++k) {
        auto col =
            std::find(g.plan->columns.begin(), g.plan->columns.end(), g.plan->ownerColumns[k]);
        std::size_t c = static_cast<std::size_t>(col - g.plan->columns.begin());
        std::string_view mine;
        ValueState s = ValueState::Absent;
        for (auto it = g.writes.rbegin(); it != g.writes.rend() && s == ValueState::Absent; ++it)
          mine = valueOf(writes[*it], c, s);
        match = k < owners.size() && owners[k].state == ValueState::Present &&
                s == ValueState::Present && mine == rel.text(owners[k]);
      }
      if (match) {
        g.state = WriteGroup::State::Dropped;
        break;
      }
    }
  }
}

std::string ParentGate::describeMissing(const WriteGroup& g, const TargetWrite& w,
                                        const ParentRef& ref, const Uuid& id,
                                        RowPolicy policy) const {
  const WritePlan& plan = *g.plan;
  std::string what =
      fmt::format("{} of {} {} into {}", toString(w.op), ParkedWriteCodec::sourceName(plan),
                  w.legacyKey(), plan.targetName());
  return describeMissingParent(what, checker_.describeAbsent(plan, ref, id), policy, ref.columnName,
                               "start again; the target transaction was rolled back.");
}

}  // namespace pgmorph
