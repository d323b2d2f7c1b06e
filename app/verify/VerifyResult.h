// VerifyResult: what `pgmorph verify` found, table by table — plain data that VerifyReport
// prints as text or JSON and VerifyCommand turns into the exit code.
//
// Words used throughout:
//  - expected: the rows the mapping makes of the source as of the pinned LSN (through the
//    same Transformer as follow and snapshot);
//  - missing: expected but not on the target; extra: on the target but not expected;
//    different: on both with at least one compared column not equal;
//  - parked: a missing, extra or different row whose target row (or source row) has an
//    entry in the parked table — the pipeline already knows about it, so it is reported
//    apart and does not make the target "different";
//  - unconvertible: a source row the mapping cannot convert now (on_error: park/fail).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cdc/model/Lsn.h"

namespace pgmorph {

struct ColumnDifference {
  std::string column;
  std::optional<std::string> expected;  // nullopt = NULL; text truncated
  std::optional<std::string> actual;
};

struct RowDifference {
  enum class Kind { Missing, Extra, Different, Parked };
  Kind kind = Kind::Different;
  std::string sourceTable;                // "" when unknown (an extra row)
  std::string legacyKey;                  // "" when unknown
  std::string id;                         // target row id
  std::vector<ColumnDifference> columns;  // Different (and Parked rows present on both sides)
  bool onTarget = false;                  // Parked: whether the target has the row
  bool expected = false;                  // Parked: whether the source has the row
};

struct TableResult {
  std::string targetTable;                // "schema.table"
  std::vector<std::string> sourceTables;  // as the mapping names them
  std::vector<std::string> columns;       // compared target columns, id first
  std::string legacyIdColumn;             // the target column keeping the legacy key ("" when none)
  std::uint64_t expectedRows = 0;
  std::uint64_t targetRows = 0;
  std::uint64_t missing = 0, extra = 0, different = 0, parked = 0;
  std::uint64_t unconvertible = 0;                // source rows the mapping cannot convert
  std::vector<std::string> unconvertibleSamples;  // "source_table key: problem"
  std::uint64_t setWithoutRow = 0;                // partial-target values whose row is not expected
  std::vector<RowDifference> differences;         // at most --max-differences, in a stable order
  double seconds = 0;
  bool equal() const { return missing == 0 && extra == 0 && different == 0; }
  std::uint64_t differenceCount() const { return missing + extra + different + parked; }
};

struct VerifyResult {
  std::string file;
  std::string pipeline;
  Lsn sourceLsn;         // the pinned position: the source snapshot's consistent point
  Lsn targetCheckpoint;  // the target's checkpoint in the compared target snapshot
  // How the target was brought to sourceLsn: "applied by verify" or "follower paused".
  std::string howPinned;
  std::optional<double> pauseMillis;  // the running follower's pause, when there was one
  std::uint64_t maxDifferences = 0;
  std::vector<TableResult> tables;
  double seconds = 0;
  bool equal() const {
    for (const auto& t : tables)
      if (!t.equal()) return false;
    return true;
  }
};

}  // namespace pgmorph
