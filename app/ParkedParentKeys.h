// ParkedParentKeys: for `pgmorph parked list`, the missing parent of a missing_parent or
// null_reference entry as the operator knows it — its source table and legacy key
// ("dispatch_user 999999") — beside the target UUID. The operator fixes the legacy side.
//
// Where the key comes from: the parked write holds the reference as a UUID only
// (uuid_v5 of the parent's key, not reversible), so the key is read from the child's source
// row — the source column that the mapping turns into the missing target column (`ref:`) —
// and kept only when it maps to exactly the parked UUID (IdMapper), i.e. the row still names
// that parent. Best effort: one query per source table and column, on a source that may be
// unreachable (then, or for a row that changed or is gone, or a composite key, only the UUID
// is shown). Read-only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "state/ParkedRow.h"
#include "transform/Config.h"

namespace pgmorph {

// Entry id -> "dispatch_user 999999".
std::map<std::int64_t, std::string> missingParentKeys(const PipelineConfig& config,
                                                      const std::vector<ParkedRow>& rows);

}  // namespace pgmorph
