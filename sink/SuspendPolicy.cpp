#include "sink/SuspendPolicy.h"

namespace pgmorph {

bool SuspendPolicy::uniqueCannotRefuse(const std::string& table,
                                       const std::vector<std::string>& columns) const {
  auto it = tables.find(table);
  if (it == tables.end() || columns.empty()) return false;
  for (const auto& c : columns)
    if (!it->second.uniqueColumns.count(c)) return false;
  return true;
}

bool SuspendPolicy::foreignKeyCovered(const std::string& table,
                                      const std::vector<std::string>& columns,
                                      const std::string& referencedTable,
                                      const std::vector<std::string>& referencedColumns) const {
  auto it = tables.find(table);
  if (it == tables.end() || columns.size() != 1 || referencedColumns.size() != 1) return false;
  auto ref = it->second.checkedRefs.find(columns[0]);
  return ref != it->second.checkedRefs.end() &&
         ref->second.count({referencedTable, referencedColumns[0]}) != 0;
}

}  // namespace pgmorph
