#include "app/report/PhaseReport.h"

#include <fmt/format.h>

namespace pgmorph {

namespace {

std::string detailText(const Phase::Detail& d) {
  if (const auto* n = std::get_if<double>(&d.value)) {
    if (*n == static_cast<double>(static_cast<long long>(*n)))
      return fmt::format("{}: {}", d.key, static_cast<long long>(*n));
    return fmt::format("{}: {:.1f}", d.key, *n);
  }
  return fmt::format("{}: {}", d.key, std::get<std::string>(d.value));
}

}  // namespace

std::string phasesMarkdown(const std::vector<Phase>& phases) {
  std::string out = "| phase | started | finished | duration | details |\n|---|---|---|---:|---|\n";
  for (const auto& p : phases) {
    std::string details;
    for (const auto& d : p.details) details += (details.empty() ? "" : ", ") + detailText(d);
    out += fmt::format("| {} | {} | {} | {} | {} |\n", p.name, isoTime(p.started),
                       isoTime(p.finished), humanSeconds(p.seconds()), details);
  }
  return out;
}

void phasesJson(JsonOut& out, const std::vector<Phase>& phases) {
  out.startArray();
  for (const auto& p : phases) {
    out.startObject();
    out.key("name");
    out.string(p.name);
    out.key("started_at");
    out.string(isoTime(p.started));
    out.key("finished_at");
    out.string(isoTime(p.finished));
    out.key("seconds");
    out.number(p.seconds());
    out.key("details");
    out.startObject();
    for (const auto& d : p.details) {
      out.key(d.key);
      if (const auto* n = std::get_if<double>(&d.value))
        out.number(*n);
      else
        out.string(std::get<std::string>(d.value));
    }
    out.endObject();
    out.endObject();
  }
  out.endArray();
}

}  // namespace pgmorph
