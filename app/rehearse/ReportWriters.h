// The files of a rehearsal report: report.json, report.md and report.html (RehearsalReport.h
// gives their layout). Pure functions of the report.
#pragma once

#include <string>

#include "app/rehearse/RehearsalReport.h"

namespace pgmorph {

std::string reportJson(const RehearsalReport& report);
std::string reportMarkdown(const RehearsalReport& report);
std::string reportHtml(const RehearsalReport& report);

}  // namespace pgmorph
