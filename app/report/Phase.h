// Phase: one timed step of a command that reports how long things took (`pgmorph rehearse`, and
// the cutover report that shares its format). Plain data; PhaseReport writes it as Markdown and
// JSON, HtmlCharts draws it.
#pragma once

#include <chrono>
#include <string>
#include <variant>
#include <vector>

namespace pgmorph {

struct Phase {
  using Time = std::chrono::system_clock::time_point;
  // A detail of a phase: a number ("rows": 1200) or a text ("consistent_point": "0/16B3F28").
  struct Detail {
    std::string key;
    std::variant<double, std::string> value;
  };

  std::string name;  // "slot creation", "copy", ...
  Time started, finished;
  std::vector<Detail> details;

  double seconds() const { return std::chrono::duration<double>(finished - started).count(); }
};

// "2026-12-02T05:31:40.123Z"
std::string isoTime(Phase::Time t);
// Parses isoTime's form back (a previous report); the epoch when it cannot.
Phase::Time parseIsoTime(const std::string& text);
// "0.8 s", "12.3 s", "4 min 05 s", "1 h 02 min"
std::string humanSeconds(double seconds);

}  // namespace pgmorph
