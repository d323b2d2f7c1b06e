#include "sink/BulkLoadPolicy.h"

#include <algorithm>
#include <iterator>
#include <optional>

namespace pgmorph {

namespace {

using Parents = std::set<std::pair<std::string, std::string>>;

std::string qualified(const TargetMapping& t) {
  return t.targetSchema + "." + t.target;
}

// Where the rows of the source table named `ref` live: its upsert targets' id columns.
Parents parentsOf(const PipelineConfig& config, const std::string& ref) {
  Parents out;
  if (const TableMapping* parent = config.findTableByName(ref))
    for (const auto& t : parent->targets)
      if (t.mode == TargetMode::Upsert) out.emplace(qualified(t), t.idColumn);
  return out;
}

struct TableWriters {
  std::set<std::string> ids, legacyIds;
  std::size_t upserts = 0;
  // Column -> parents common to every writer; nullopt once a writer is not a ref.
  std::map<std::string, std::optional<Parents>> columns;

  void write(const std::string& column, std::optional<Parents> parents) {
    auto [it, first] = columns.emplace(column, parents);
    if (first) return;
    if (!it->second || !parents) {
      it->second.reset();
      return;
    }
    Parents common;
    std::set_intersection(it->second->begin(), it->second->end(), parents->begin(), parents->end(),
                          std::inserter(common, common.end()));
    it->second = std::move(common);
  }
};

}  // namespace

SuspendPolicy bulkLoadPolicy(const PipelineConfig& config) {
  std::map<std::string, TableWriters> writers;
  for (const auto& source : config.tables) {
    for (const auto& t : source.targets) {
      TableWriters& w = writers[qualified(t)];
      if (t.mode == TargetMode::Upsert) {
        ++w.upserts;
        w.ids.insert(t.idColumn);
        w.write(t.idColumn, std::nullopt);
        if (t.legacyIdColumn) {
          w.legacyIds.insert(*t.legacyIdColumn);
          w.write(*t.legacyIdColumn, std::nullopt);
        }
      }
      for (const auto& c : t.columns)
        w.write(c.target, c.ref ? std::optional(parentsOf(config, *c.ref)) : std::nullopt);
      for (const auto& s : t.set) w.write(s.target, std::nullopt);
    }
  }
  SuspendPolicy policy;
  for (auto& [table, w] : writers) {
    SuspendPolicy::Table& p = policy.tables[table];
    p.uniqueColumns = w.ids;
    if (w.upserts == 1) p.uniqueColumns.insert(w.legacyIds.begin(), w.legacyIds.end());
    for (const auto& [column, parents] : w.columns)
      if (parents && !parents->empty()) p.checkedRefs[column] = *parents;
    // A key column that a mapping also fills from a source column holds whatever it brings.
    for (const auto& source : config.tables)
      for (const auto& t : source.targets)
        if (qualified(t) == table) {
          for (const auto& c : t.columns) p.uniqueColumns.erase(c.target);
          for (const auto& s : t.set) p.uniqueColumns.erase(s.target);
        }
  }
  return policy;
}

}  // namespace pgmorph
