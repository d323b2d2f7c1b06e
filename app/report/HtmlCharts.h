// HtmlCharts: the pictures of a report as inline SVG, and the self-contained HTML page around
// them — no JavaScript, no fonts or styles fetched: the file opens offline, in a browser or a
// mail attachment. Every label (phase and table names, axis titles and ticks) is SVG text, so
// what a person sees can also be searched and printed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "app/report/Phase.h"

namespace pgmorph {

std::string htmlEscape(const std::string& text);

// A Gantt-like timeline: one bar per phase on a shared time axis (seconds from the first start),
// its name on the left and its duration at the end of the bar.
std::string svgTimeline(const std::vector<Phase>& phases);

// Horizontal bars, one per (label, value), longest scale first as given; `unit` follows each
// value ("s").
std::string svgBars(const std::vector<std::pair<std::string, double>>& bars,
                    const std::string& unit);

// A line over (x, y) points with axes, tick values and the two axis titles.
std::string svgLine(const std::vector<std::pair<double, double>>& points, const std::string& xTitle,
                    const std::string& yTitle, const std::string& color);

// The page: inline CSS, `title` as <title> and <h1>, then `body` (HTML).
std::string htmlPage(const std::string& title, const std::string& body);

}  // namespace pgmorph
