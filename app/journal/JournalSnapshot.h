// JournalSnapshot: the initial copy of a pipeline that reads a journal (`source.journal`) is
// taken like any other (SnapshotRunner), but under a TEMPORARY exported-snapshot slot (as
// `pgmorph verify` does): the pipeline never holds a permanent slot on the source, and follow
// then continues from the journal at the slot's consistent point P. That is exact (invariant 3)
// when the journal holds every transaction committing after P (its start <= P).
//
// Needs source.conninfo (the copy reads the source); refused with a sentence without it.
#pragma once

#include "cdc/ExportedSnapshotSlot.h"
#include "cdc/model/Lsn.h"
#include "transform/Config.h"

namespace pgmorph {

struct JournalSnapshot {
  // The temporary slot "<source.slot>_snap" with an exported snapshot. Checks first that
  // source.conninfo is set and the journal directory exists (Transient: `pgmorph journal` may
  // not have created it yet).
  static ExportedSnapshotSlot createSlot(const PipelineConfig& config);
  // Records the pipeline as a journal consumer at `point`, so that retention keeps what it will
  // apply after the copy, and checks at once that the journal covers it.
  static void holdPosition(const PipelineConfig& config, Lsn point);
  // Throws PgmorphError (Operator) when the journal does not hold every transaction committing
  // after `point` (its start is later): following from it would miss changes.
  static void requireCovered(const PipelineConfig& config, Lsn point);
};

}  // namespace pgmorph
