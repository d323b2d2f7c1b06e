// ParkedSummary: the closing lines of a snapshot about the rows it parked — per target table
// and reason (kind), so that a snapshot that parks 2% of its rows says so in its summary and
// not only in a counter inside info lines. Pure formatting (parkedSummaryLines) and the log
// call that reads the counts (logParkedSummary).
#pragma once

#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "state/ParkedStore.h"

namespace pgmorph {

// "1,204" — the grouping an operator reads at a glance.
std::string withThousands(std::int64_t n);

// The lines, first the total with what to do, then one per target table:
//   "parked: 1,204 rows are not on the target (see `pgmorph parked list ...`)"
//   "  public.profiles 1,204 (refused 1,100, missing_parent 104)"
// or one line "parked: none" when nothing is parked.
std::vector<std::string> parkedSummaryLines(const std::vector<ParkedStore::TableCount>& counts,
                                            const std::string& pipeline);

// Reads ParkedStore::countByTable and logs the lines (a warning when something is parked).
void logParkedSummary(PgConnection& target, const ParkedStore& store);

}  // namespace pgmorph
