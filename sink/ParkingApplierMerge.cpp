// ParkingApplier, step 1: the parked entries of the rows a round writes (one lookup). A later
// write of a parked row is merged into it (the new values win, absent ones come from the
// parked write) and the entry goes along with the write; a later delete of the row, a release
// that stops naming it, or a truncate makes the entry moot and removes it — a parked row never
// resurrects stale data. A reference written as NULL (on_missing: null) is forgotten when a
// later write sets that column. See ParkingApplier.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "sink/ParkingApplier.h"

namespace pgmorph {

void ParkingApplier::takeParkedEntries(std::span<TargetWrite> writes) {
  std::vector<Uuid> ids;
  std::unordered_set<Uuid, UuidHash> seen;
  std::unordered_map<RowKey, std::size_t, RowKeyHash> firstDelete;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const TargetWrite& w = writes[i];
    if (w.op != WriteOp::Upsert && w.op != WriteOp::SetColumns && w.op != WriteOp::Delete) continue;
    if (w.op == WriteOp::Delete) firstDelete.try_emplace(RowKey{groups_.tableOf(i), w.row}, i);
    if (seen.insert(w.row).second) ids.push_back(w.row);
  }
  std::vector<ParkedRow> moot;
  for (ParkedRow& e : store_.onRows(target_, ids)) {
    if (e.kind == ParkKind::Unconvertible || handled_.count(e.id) || !e.rowId) continue;
    const int t = shared_->checker.table(e.targetTable);
    if (t < 0) continue;
    const Uuid row = *e.rowId;
    const RowKey rk{t, row};
    const WritePlan* plan = codec_.plan(e.plan);
    auto del = firstDelete.find(rk);
    const std::size_t deletedAt = del == firstDelete.end() ? writes.size() : del->second;
    if (e.kind == ParkKind::NullReference) {
      // The reference to fill in is moot once a later write sets that column itself, or the
      // row goes away.
      bool superseded = deletedAt < writes.size() || groups_.truncatedBefore(t, writes.size());
      for (WriteOp op : {WriteOp::Upsert, WriteOp::SetColumns}) {
        int g = plan ? groups_.firstGroup(plan, row, op) : -1;
        if (g < 0) continue;
        auto col = std::find(plan->columns.begin(), plan->columns.end(), e.missingColumn);
        if (col == plan->columns.end()) continue;
        std::size_t c = static_cast<std::size_t>(col - plan->columns.begin());
        for (std::size_t i : groups_[g].writes) {
          ValueState s;
          valueOf(writes[i], c, s);
          superseded = superseded || s != ValueState::Absent;
        }
      }
      if (superseded) {
        handled_.insert(e.id);
        moot.push_back(std::move(e));
      }
      continue;
    }
    WriteOp op = e.op == "set_columns" ? WriteOp::SetColumns : WriteOp::Upsert;
    int g = plan && (e.op == "upsert" || e.op == "set_columns") ? groups_.firstGroup(plan, row, op)
                                                                : -1;
    std::size_t first = g >= 0 ? groups_[g].writes.front() : writes.size();
    bool goneFirst = deletedAt < first || groups_.truncatedBefore(t, first);
    if (g >= 0 && !goneFirst) {
      // A later write of a parked row: one write, the parked values under the new ones.
      TargetWrite parked, merged;
      std::string why;
      if (!codec_.decode(e, parked, why)) {
        spdlog::warn("parked entry {} cannot be merged with a later write of its row: {}", e.id,
                     why);
        continue;
      }
      WriteEdits::overlay(parked, writes[first], merged);
      writes[first] = std::move(merged);
      handled_.insert(e.id);
      groups_[g].carried.push_back(std::move(e));
      continue;
    }
    bool rewritten = false;
    if (e.op != "upsert" && e.op != "set_columns")
      for (const WriteGroup& gr : groups_.all())
        rewritten = rewritten || (gr.table == t && gr.row == row);
    if (goneFirst || rewritten) {
      handled_.insert(e.id);
      moot.push_back(std::move(e));
    }
  }
  // A release that stops naming a row: the parked completion of that row is moot.
  std::unordered_map<const WritePlan*, std::vector<ParkedRow>> partials;
  for (std::size_t r : groups_.releases()) {
    const TargetWrite& rel = writes[r];
    auto [it, fresh] = partials.try_emplace(rel.plan);
    if (fresh)
      it->second = store_.ofPlan(target_, ParkedWriteCodec::planKey(*rel.plan), "set_columns");
    for (ParkedRow& e : it->second) {
      if (handled_.count(e.id)) continue;
      if (rel.hasRow && e.rowId == rel.row) continue;
      bool match = true;
      auto owners = rel.values();
      for (std::size_t k = 0; k < rel.plan->ownerColumns.size() && match; ++k) {
        auto v = std::find_if(e.values.begin(), e.values.end(), [&](const ParkedValue& pv) {
          return pv.column == rel.plan->ownerColumns[k];
        });
        match = k < owners.size() && owners[k].state == ValueState::Present &&
                v != e.values.end() && v->state == ParkedValue::State::Present &&
                v->text == rel.text(owners[k]);
      }
      if (!match) continue;
      handled_.insert(e.id);
      moot.push_back(e);
    }
  }
  for (std::size_t t : groups_.truncates())
    for (ParkedRow& e : store_.ofPlan(target_, ParkedWriteCodec::planKey(*writes[t].plan))) {
      if (!handled_.insert(e.id).second) continue;
      moot.push_back(std::move(e));
    }
  removeEntries(moot, false);
}

}  // namespace pgmorph
