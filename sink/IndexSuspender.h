// IndexSuspender: the bulk-load order of pg_restore for the snapshot — load the target tables
// without their indexes and foreign keys, build each table's indexes once its rows are all
// there, and add the foreign keys back last.
//
// Why: every row COPYed into a table with B-tree indexes on random UUIDs pays for the index
// insertions (and their WAL) one by one; one sort-based build after the load costs a fraction
// of that. A PRIMARY KEY cannot be dropped while a foreign key references it, so the foreign
// keys of the loaded tables — and those of other tables that reference them — go first.
//
// What is suspended: of the given tables, every valid non-unique index, the PRIMARY KEY /
// UNIQUE constraints and unique indexes that the SuspendPolicy says cannot refuse a row, the
// foreign keys from them that it says the parent checks cover, and every foreign key of
// other tables onto them. The other keys stay in place, so that a row they refuse is refused
// (and parked) alone during the copy rather than failing the rebuild at the end. Also left
// alone, so that nothing is lost that a re-creation from its definition would not give back:
// EXCLUDE constraints, indexes or constraints with a comment, clustered or replica-identity
// indexes, indexes outside the default tablespace, inherited constraints, foreign keys of
// partitioned tables, and any index that such a kept foreign key references.
//
// Definitions live in SuspendedDdlStore: dropping and recording commit together, and so do
// each restore and its mark, so a crash never loses one.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "sink/SuspendPolicy.h"
#include "state/SuspendedDdlStore.h"

namespace pgmorph {

class IndexSuspender {
 public:
  explicit IndexSuspender(const SuspendedDdlStore& store) : store_(store) {}

  // In the caller's transaction: records and drops the definitions of `tables` ("schema.table")
  // described above (foreign keys first). Returns how many were dropped now. Logs, one line
  // per table, the keys that `policy` keeps in place and why.
  std::size_t suspend(PgConnection& target, const std::vector<std::string>& tables,
                      const SuspendPolicy& policy) const;

  // Builds every suspended index and PRIMARY KEY / UNIQUE constraint of `table`
  // ("schema.table") and marks them restored, in one transaction of its own. Returns how many.
  // A build that fails (a duplicate key) throws PgmorphError (Operator) naming the table, the
  // constraint or index and PostgreSQL's DETAIL; the definitions stay recorded.
  std::size_t restoreTable(PgConnection& target, const std::string& table) const;

  // Every table with suspended indexes or constraints.
  std::vector<std::string> tablesToRebuild(PgConnection& target) const;

  // Adds back every suspended foreign key: first all of them NOT VALID (one short
  // transaction), then each one validated and marked restored in a transaction of its own,
  // on up to `jobs` sessions opened with `connect` (foreign keys of one table on one session:
  // validating one locks its table against the others). A key that does not hold throws
  // PgmorphError (Operator) with the constraint, its table and PostgreSQL's DETAIL (the
  // offending key); it stays recorded, added NOT VALID, until a later run validates it.
  std::size_t restoreForeignKeys(PgConnection& target, int jobs,
                                 const std::function<PgConnection()>& connect) const;

 private:
  const SuspendedDdlStore& store_;
};

}  // namespace pgmorph
