// sweepLateReferences: the last step of a snapshot's copy, before the keys the bulk load
// suspended are restored. References without a target key that point at each other (table A
// names B, B names A, no foreign key) cannot have their parent table copied first, so their
// copies leave them unchecked (SnapshotPlan::lateChecks); once every table is copied, each of
// them is swept in one statement: a reference whose row is not on the target is set to NULL
// and kept to fill in (on_missing: null), its row is taken off the target and parked
// (on_missing: park), or the snapshot stops naming it (on_missing: fail) — the same decisions
// as everywhere else (OrphanSweeper).
//
// One target transaction; running it again finds nothing more (the snapshot resumes through
// here after a crash).
#pragma once

#include "app/snapshot/SnapshotPlan.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetCatalog.h"
#include "transform/Config.h"

namespace pgmorph {

void sweepLateReferences(PgConnection& target, const PipelineConfig& config,
                         const SnapshotPlan& plan, const TargetCatalog& catalog);

}  // namespace pgmorph
