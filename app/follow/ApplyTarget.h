// ApplyTarget: the target session every apply works on — follow from the slot (Follower), from a
// journal (JournalFollower) and replay — and the check that the target may be applied to.
#pragma once

#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"

namespace pgmorph {

// Connects to the target with the session settings an apply needs (see the .cpp for why).
PgConnection openApplyTarget(const PipelineConfig& config);

// Throws (Operator) when the pipeline's snapshot is not finished, or when indexes or foreign keys
// its bulk load dropped are not restored yet: changes must not be applied to a half-loaded target.
void requireLoadedTarget(PgConnection& target, const PipelineConfig& config);

}  // namespace pgmorph
