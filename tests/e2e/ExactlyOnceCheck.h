// ExactlyOnceCheck: did pgmorph apply any source change to a table more than once?
//
// It sets the target's AuditLog of one table against the source's SourceAudit of the
// legacy table feeding it, row by row (the legacy id mapped to its UUID on the source with
// uuid-ossp, independently of pgmorph):
//   * every row of the target table was inserted exactly once;
//   * no row saw more INSERTs, UPDATEs or DELETEs on the target than its legacy row saw on
//     the source. A replayed source transaction shows up here: its insert lands as an extra
//     UPDATE (ON CONFLICT) or a second INSERT, its update as an extra UPDATE.
// "Fewer on the target" is allowed: pgmorph may merge successive changes of one row inside
// a target transaction. Completeness is the projection comparison's job, not this one's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph::e2e {

struct ExactlyOnceReport {
  std::int64_t rows = 0;           // rows in the target table
  std::int64_t targetInserts = 0;  // audit events on the target
  std::int64_t targetUpdates = 0;
  std::int64_t targetDeletes = 0;
  std::int64_t sourceInserts = 0;  // audit events on the source
  std::int64_t sourceUpdates = 0;
  std::int64_t sourceDeletes = 0;
  std::int64_t violations = 0;  // rows applied more often than they changed
  std::vector<std::string> examples;

  bool ok() const { return violations == 0; }
  std::string str() const;
};

ExactlyOnceReport checkExactlyOnce(PgConnection& source, PgConnection& target,
                                   const std::string& idNamespace,
                                   const std::string& sourceTable,  // dispatch_notification
                                   const std::string& targetTable,  // system_messages
                                   std::size_t maxExamples = 5);

}  // namespace pgmorph::e2e
