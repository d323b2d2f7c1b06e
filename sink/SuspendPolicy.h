// SuspendPolicy: which keys of the loaded tables the snapshot's bulk load may drop, because
// they can never refuse a row pgmorph writes. Whatever else stays in place during the copy
// so that a row it refuses (a duplicate on a business column, an orphan that no parent check
// sees) is refused and parked alone, as in streaming, instead of failing the rebuild at the
// end. Plain data; BulkLoadPolicy derives it from the mapping, IndexSuspender applies it.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgmorph {

struct SuspendPolicy {
  struct Table {
    // A PRIMARY KEY or UNIQUE made of plain columns that are all in here holds by
    // construction (mapped ids; the legacy key when only one source table fills the table).
    std::set<std::string> uniqueColumns;
    // Column -> the parents ("schema.table", column) whose orphans the parent checks park
    // before the row is written: a single-column foreign key onto one of them is covered.
    std::map<std::string, std::set<std::pair<std::string, std::string>>> checkedRefs;
  };
  std::map<std::string, Table> tables;  // "schema.table"

  // `columns` empty: an index on expressions or with a predicate (never suspended).
  bool uniqueCannotRefuse(const std::string& table, const std::vector<std::string>& columns) const;
  bool foreignKeyCovered(const std::string& table, const std::vector<std::string>& columns,
                         const std::string& referencedTable,
                         const std::vector<std::string>& referencedColumns) const;
};

}  // namespace pgmorph
