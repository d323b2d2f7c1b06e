#include "transform/TablePlan.h"

#include <algorithm>

namespace pgmorph {

TablePlan::TablePlan(const TableMapping& table, std::span<const WritePlan> plans,
                     const SourceConfig& source, IdMapper& ids)
    : table_(&table) {
  for (const auto& k : table.keyColumns) sourceKeySlots_.push_back(slot(k));
  for (std::size_t i = 0; i < table.targets.size(); ++i) {
    const TargetMapping& m = table.targets[i];
    auto& list = m.mode == TargetMode::Upsert ? upserts_ : partials_;
    list.push_back(makeTarget(m, plans[i], source, ids));
  }
}

int TablePlan::slot(const std::string& column) {
  auto it = std::find(slotNames_.begin(), slotNames_.end(), column);
  if (it != slotNames_.end()) return static_cast<int>(it - slotNames_.begin());
  slotNames_.push_back(column);
  return static_cast<int>(slotNames_.size() - 1);
}

TablePlan::Target TablePlan::makeTarget(const TargetMapping& m, const WritePlan& plan,
                                        const SourceConfig& source, IdMapper& ids) {
  Target t;
  t.mapping = &m;
  t.plan = &plan;
  for (const auto& k : m.keyColumns) t.keySlots.push_back(slot(k));
  t.keyIsSourceKey = t.keySlots == sourceKeySlots_;
  t.keyIds = &ids.shared(m.keyTable);
  for (const auto& c : m.columns) {
    t.converters.emplace_back(c, source, ids);
    t.converterSlots.push_back(slot(c.source));
  }
  for (const auto& w : m.where) t.where.push_back({slot(w.column), &w});
  if (m.mode == TargetMode::Update) {
    // Same order as WritePlan::ownerColumns: mapped source-key columns, then constants.
    for (std::size_t i = 0; i < m.columns.size(); ++i)
      if (std::find(table_->keyColumns.begin(), table_->keyColumns.end(), m.columns[i].source) !=
          table_->keyColumns.end())
        t.owners.push_back({static_cast<int>(i), nullptr});
    for (const auto& s : m.set) t.owners.push_back({-1, &s.value});
  }
  return t;
}

void TablePlan::resolve(const Change& change, bool identity, std::vector<int>& positions) {
  Layout& layout = identity ? identityLayout_ : columnsLayout_;
  std::size_t n = identity ? change.identityCount() : change.columnCount();
  auto nameAt = [&](std::size_t i) {
    return identity ? change.identity(i).name : change.column(i).name;
  };
  bool same = layout.names.size() == n;
  for (std::size_t i = 0; same && i < n; ++i) same = layout.names[i] == nameAt(i);
  if (!same) {
    layout.names.resize(n);
    layout.slotOfPosition.assign(n, -1);
    for (std::size_t i = 0; i < n; ++i) {
      layout.names[i].assign(nameAt(i));
      auto it = std::find(slotNames_.begin(), slotNames_.end(), layout.names[i]);
      if (it != slotNames_.end())
        layout.slotOfPosition[i] = static_cast<int>(it - slotNames_.begin());
    }
  }
  positions.assign(slotNames_.size(), -1);
  for (std::size_t i = 0; i < n; ++i)
    if (int s = layout.slotOfPosition[i]; s >= 0) positions[s] = static_cast<int>(i);
}

}  // namespace pgmorph
