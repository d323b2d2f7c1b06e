// CopyKeyCheck: the foreign keys of one target table, checked in bulk after a snapshot copy.
//
// Why: a target session in session_replication_role = replica does not fire the row-by-row
// foreign-key triggers (as PostgreSQL's own logical replication apply does), which takes
// about a third off the target's cost of a COPY. The keys still have to hold, so after the
// copy — in the same transaction, before "done" is recorded and committed — one anti-join
// per foreign key looks for rows whose parent is missing (MATCH SIMPLE: a row with any key
// column NULL is not checked, as PostgreSQL does by default).
//
// A violation is refused like a row the target refuses during a COPY: PgmorphError
// (Operator) naming the source table, the target table, the constraint, the number of rows
// and the first legacy keys (the mapping's legacy_id column; the target id when there is
// none), so the caller rolls back and nothing of that copy commits.
#pragma once

#include <set>
#include <string>

#include "cdc/pg/PgConnection.h"
#include "transform/FkGraph.h"

namespace pgmorph {

class CopyKeyCheck {
 public:
  // `table` is "schema.table"; `keyColumn` names rows in messages (legacy id or id).
  // `sourceTable` is only used in messages. Keys in `skip` ("schema.table:constraint") are not
  // checked (dropped for a bulk load: adding them back checks them).
  static void check(PgConnection& target, const FkGraph& graph, const std::string& table,
                    const std::string& keyColumn, const std::string& sourceTable,
                    const std::set<std::string>& skip = {});
};

}  // namespace pgmorph
