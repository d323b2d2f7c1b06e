// ScratchTarget: the rule that a rehearsal runs on a scratch target. inspect() lists what the
// pipeline already holds there — rows in any target table an upsert target of the mapping loads
// (a table only `mode: update` targets write is someone else's: left alone), rows of this pipeline
// in the state schema (checkpoint, snapshot, snapshot_tables, parked, suspended_ddl,
// source_columns, verify_pause) — and whether its slot exists on the source. reset() empties
// exactly that, after logging each item: the mapped tables in one TRUNCATE (CASCADE only when a
// table outside the mapping references them, and said so), the pipeline's state rows, and the slot
// — refused when the slot is active (a running pgmorph streams from it).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "transform/Config.h"

namespace pgmorph {

struct ScratchContents {
  std::vector<std::string> existingTables;  // mapped target tables present on the target
  std::vector<std::pair<std::string, std::int64_t>> tableRows;  // the ones holding rows
  std::vector<std::pair<std::string, std::int64_t>> stateRows;  // state tables, this pipeline
  bool slotExists = false;
  bool slotActive = false;

  bool empty() const { return tableRows.empty() && stateRows.empty() && !slotExists; }
  // "public.orders (1200 rows), pgmorph.checkpoint (1 row of pipeline p), slot s on the source"
  std::string describe(const PipelineConfig& config) const;
};

class ScratchTarget {
 public:
  // Throws PgError/PgmorphError when a database cannot be read.
  static ScratchContents inspect(const PipelineConfig& config);
  static void reset(const PipelineConfig& config, const ScratchContents& contents);
};

}  // namespace pgmorph
