// PhaseReport: the phases of a report in its two text forms — a Markdown table (## Phases) and
// the JSON array "phases":[{"name","started_at","finished_at","seconds","details":{...}}] —
// shared by `pgmorph rehearse` and the cutover report so that both read the same way.
#pragma once

#include <string>
#include <vector>

#include "app/report/JsonOut.h"
#include "app/report/Phase.h"

namespace pgmorph {

// "| phase | started | finished | seconds | details |" and a row per phase.
std::string phasesMarkdown(const std::vector<Phase>& phases);
// Writes the array (the caller has written the "phases" key).
void phasesJson(JsonOut& out, const std::vector<Phase>& phases);

}  // namespace pgmorph
