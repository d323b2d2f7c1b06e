#include "sink/WriteGroups.h"

#include "sink/ParkedWriteCodec.h"

namespace pgmorph {

std::string_view valueOf(const TargetWrite& w, std::size_t i, ValueState& state) {
  auto values = w.values();
  if (i >= values.size()) {
    state = ValueState::Absent;
    return {};
  }
  state = values[i].state;
  return state == ValueState::Present ? w.text(values[i]) : std::string_view();
}

bool upsertPlan(const WritePlan& plan) {
  return !plan.mapping || plan.mapping->mode == TargetMode::Upsert;
}

void WriteGroups::build(std::span<const TargetWrite> writes, const ParentChecker& checker) {
  const std::size_t n = writes.size();
  groups_.clear();
  groupOf_.assign(n, -1);
  tableOf_.assign(n, -1);
  open_.clear();
  epoch_.clear();
  events_.clear();
  lastDelete_.clear();
  lastTruncate_.clear();
  releases_.clear();
  truncates_.clear();
  std::unordered_map<int, std::uint32_t> tableEpoch;
  for (std::size_t i = 0; i < n; ++i) {
    const TargetWrite& w = writes[i];
    const int t = checker.table(w.plan->targetName());
    tableOf_[i] = t;
    const RowKey rk{t, w.row};
    switch (w.op) {
      case WriteOp::Upsert:
      case WriteOp::SetColumns: {
        // A group ends where its row is deleted (or its table truncated): what comes after
        // is a new row as far as the target is concerned.
        std::uint32_t epoch = epoch_[rk] + (tableEpoch[t] << 16);
        epoch = epoch * 2 + (w.op == WriteOp::SetColumns ? 1 : 0);
        auto [it, fresh] =
            open_.try_emplace(GroupKey{w.plan, w.row, epoch}, static_cast<int>(groups_.size()));
        if (fresh) {
          WriteGroup g;
          g.plan = w.plan;
          g.row = w.row;
          g.table = t;
          g.op = w.op;
          groups_.push_back(std::move(g));
        }
        groups_[static_cast<std::size_t>(it->second)].writes.push_back(i);
        groupOf_[i] = it->second;
        if (w.op == WriteOp::Upsert && upsertPlan(*w.plan)) events_[rk] = Event{it->second, i};
        break;
      }
      case WriteOp::Delete:
        events_[rk] = Event{-1, i};
        lastDelete_[rk] = i;
        ++epoch_[rk];
        break;
      case WriteOp::Truncate:
        lastTruncate_[t] = i;
        ++tableEpoch[t];
        truncates_.push_back(i);
        break;
      case WriteOp::Release:
        releases_.push_back(i);
        break;
    }
  }
}

int WriteGroups::firstGroup(const WritePlan* plan, const Uuid& row, WriteOp op) const {
  // Before any delete of the row or truncate of its table: epoch 0.
  auto it = open_.find(GroupKey{plan, row, op == WriteOp::SetColumns ? 1u : 0u});
  return it == open_.end() ? -1 : it->second;
}

bool WriteGroups::goneAfter(int table, const Uuid& row, std::size_t index) const {
  auto del = lastDelete_.find(RowKey{table, row});
  auto trunc = lastTruncate_.find(table);
  return (del != lastDelete_.end() && del->second > index) ||
         (trunc != lastTruncate_.end() && trunc->second > index);
}

const WriteGroups::Event* WriteGroups::lastEvent(int table, const Uuid& row) const {
  auto it = events_.find(RowKey{table, row});
  return it == events_.end() ? nullptr : &it->second;
}

long WriteGroups::lastTruncate(int table) const {
  auto it = lastTruncate_.find(table);
  return it == lastTruncate_.end() ? -1 : static_cast<long>(it->second);
}

bool WriteGroups::truncatedBefore(int table, std::size_t index) const {
  for (std::size_t t : truncates_)
    if (tableOf_[t] == table && t < index) return true;
  return false;
}

void WriteGroups::netEffect(std::span<const TargetWrite> writes, const WriteGroup& g,
                            TargetWrite& out) {
  out = writes[g.writes.front()];
  for (std::size_t k = 1; k < g.writes.size(); ++k) {
    TargetWrite next;
    WriteEdits::overlay(out, writes[g.writes[k]], next);
    out = std::move(next);
  }
}

}  // namespace pgmorph
