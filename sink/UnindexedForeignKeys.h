// UnindexedForeignKeys: the target's foreign keys onto tables pgmorph writes whose referencing
// columns no index leads with.
//
// Why it matters: every delete of a referenced row (and every change of its key) makes the
// foreign key's action or check look the children up by those columns. Without an index
// that is a scan of the child table per parent row, which PostgreSQL's own subscriber never
// pays (it applies with session_replication_role = replica, so foreign-key triggers do not
// fire) and pgmorph, which keeps the target's constraints enforced, always pays. On the
// example's target.sql (no index on any order_id) deleting orders takes most of the apply time
// (tests/bench/README.md). pgmorph does not create indexes on its own: it says which ones a
// DBA would add, and the snapshot builds them when snapshot.index_foreign_keys says so
// (sink/ForeignKeyIndexes.h).
#pragma once

#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct UnindexedForeignKey {
  std::string constraint;  // its name
  std::string child;       // referencing table, as regclass prints it (quoted where needed)
  std::string parent;      // referenced table, likewise
  std::string columns;     // referencing columns, quoted, comma-separated
  std::string onDelete;    // "NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"
  std::string childSchema, childTable;   // the referencing table's schema and name, unquoted
  std::vector<std::string> columnNames;  // referencing columns, unquoted, in key order

  // "CREATE INDEX ON <child> (<columns>)": what the warning suggests.
  std::string suggestedIndex() const;
  // One sentence for the log: the constraint, both tables, the cost and the suggestion.
  std::string describe() const;
};

// Foreign keys (of any table) that reference one of `parents` ("schema.table", unquoted) and
// whose referencing columns are not the leading columns (in any order) of a valid,
// non-partial index of the referencing table.
std::vector<UnindexedForeignKey> findUnindexedForeignKeys(PgConnection& target,
                                                          const std::vector<std::string>& parents);

}  // namespace pgmorph
