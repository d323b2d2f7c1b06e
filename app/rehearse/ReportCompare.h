// ReportCompare: the previous rehearsal's report.json against this one — each phase's seconds
// then and now ("slower"/"faster" beyond ±10 %, else "same"; "new" when it was not there), and
// every target table whose verify result (equal / different / absent) changed.
#pragma once

#include <optional>
#include <string>

#include "app/rehearse/RehearsalReport.h"

namespace pgmorph {

// `previousJson`: the text of the previous report.json; nullopt when it cannot be read as one
// (the caller says so and compares with nothing).
std::optional<Comparison> compareWithPrevious(const std::string& previousJson,
                                              const std::string& keptAs,
                                              const RehearsalReport& now);

}  // namespace pgmorph
