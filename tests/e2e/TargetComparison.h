// TargetComparison: reads every target table of the dispatch example and its independent
// projection from the source (TargetProjection), and says, per table, which rows differ:
// missing on the target, extra on the target, or present on both with different values
// (column by column), with the first few examples of each. Both sides are read as text in
// sessions pinned to TimeZone=UTC and DateStyle=ISO (PgConnection does that), so equal
// values print equally.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "tests/e2e/TargetProjection.h"

namespace pgmorph::e2e {

struct TableDifference {
  std::string table;
  std::size_t targetRows = 0;
  std::size_t expectedRows = 0;
  std::size_t missing = 0;     // expected, absent from the target
  std::size_t extra = 0;       // on the target, not expected
  std::size_t different = 0;   // same id, some column differs
  std::size_t duplicates = 0;  // an id seen twice on one side (an ambiguous projection)
  std::vector<std::string> examples;

  bool equal() const { return missing + extra + different + duplicates == 0; }
};

struct ComparisonReport {
  std::vector<TableDifference> tables;

  bool equal() const;
  std::size_t expectedRows() const;
  // One line per table, then the examples of the tables that differ.
  std::string str() const;
};

// `source` and `target` are connections to the test's databases; `idNamespace` is the
// mapping's ids.namespace. `tables` may be a variant of the projection (a test that expects
// some rows to be parked compares with the projection minus those rows); its queries run in
// the `source` session, so they may read that session's temporary tables.
ComparisonReport compareTargetWithProjection(PgConnection& source, PgConnection& target,
                                             const std::vector<TableProjection>& tables,
                                             const std::string& idNamespace,
                                             std::size_t maxExamples = 3);
// The same for every table of dispatchProjection().
ComparisonReport compareTargetWithProjection(PgConnection& source, PgConnection& target,
                                             const std::string& idNamespace,
                                             std::size_t maxExamples = 3);

}  // namespace pgmorph::e2e
