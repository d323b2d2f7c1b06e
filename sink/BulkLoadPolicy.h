// BulkLoadPolicy: the SuspendPolicy of a pipeline's snapshot, read from its mapping.
//
// - PRIMARY KEY / UNIQUE on a target's mapped id column(s): suspendable (uuid_v5 of
//   "<source table>:<key>" is unique by construction, two source tables never share one).
// - PRIMARY KEY / UNIQUE on the id and/or legacy_id columns: suspendable only when exactly
//   one upsert mapping fills the table (two could bring the same legacy key).
// - A single-column foreign key: suspendable when every mapping that writes the column
//   writes it from a `ref:` whose table's rows live in the referenced table and column: the
//   parent checks park those orphans before the row is written.
// Anything else (and any column that some mapping also writes from elsewhere) is not listed,
// so it stays in place during the copy.
#pragma once

#include "sink/SuspendPolicy.h"
#include "transform/Config.h"

namespace pgmorph {

SuspendPolicy bulkLoadPolicy(const PipelineConfig& config);

}  // namespace pgmorph
