#include "app/cutover/CutoverReport.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

#include "app/verify/VerifyReport.h"
#include "cdc/json/JsonWriter.h"

namespace pgmorph {

namespace {

// The checks a go needs, in the order they run.
constexpr const char* kGateChecks[] = {"check", "source quiet", "verify", "sequences"};

std::string iso(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::chrono::sys_seconds secs{std::chrono::seconds(ms / 1000)};
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, ms % 1000);
}

std::string numberOr(const std::optional<std::int64_t>& v, const char* none) {
  return v ? std::to_string(*v) : std::string(none);
}

void optionalInt(JsonWriter& w, const std::optional<std::int64_t>& v) {
  if (v)
    w.integer(*v);
  else
    w.null();
}

void optionalLsn(JsonWriter& w, const std::optional<Lsn>& v) {
  if (v)
    w.string(v->str());
  else
    w.null();
}

}  // namespace

bool CutoverReport::go() const {
  for (const char* name : kGateChecks) {
    auto it = std::find_if(checks.begin(), checks.end(),
                           [&](const CutoverCheck& c) { return c.name == name; });
    if (it == checks.end() || !it->passed) return false;
  }
  return true;
}

std::string CutoverReport::markdown() const {
  std::string out = fmt::format("# pgmorph cutover of {}: {}\n\n", pipeline, go() ? "GO" : "NO-GO");
  out += fmt::format("Pipeline file `{}`, started {}, finished {}.\n\n", file, iso(started),
                     iso(finished));
  out += "## Checks\n\n";
  for (const auto& c : checks) {
    out += fmt::format("- **{}**: {}\n", c.name, c.passed ? "passed" : "FAILED");
    for (const auto& d : c.details) out += fmt::format("  - {}\n", d);
  }
  for (const char* name : kGateChecks)
    if (std::none_of(checks.begin(), checks.end(),
                     [&](const CutoverCheck& c) { return c.name == name; }))
      out += fmt::format("- **{}**: not run\n", name);
  out += "\n## Phases\n\n| phase | start | end | seconds |\n|---|---|---|---|\n";
  for (const auto& p : phases) {
    out += fmt::format("| {} | {} | {} | {:.2f} |\n", p.name, iso(p.started), iso(p.finished),
                       p.seconds());
  }
  out += "\n## Final LSN\n\n";
  if (finalLsn)
    out += fmt::format(
        "The source's WAL insert position once it was quiet: **{}**. Verify pinned both sides "
        "at {} (at or after it; with the source quiet, the mapped tables are the same at "
        "both).\n",
        finalLsn->str(), verifyLsn ? verifyLsn->str() : "(not reached)");
  else
    out += "Not reached.\n";
  out += "\n## Source changes\n\n";
  if (sourceChanges.empty())
    out += "None: cutover changed nothing on the source, and the slot is kept.\n";
  for (const auto& c : sourceChanges) out += fmt::format("- {}\n", c);
  out += "\n## Sequences\n\n";
  if (sequences.empty()) {
    out += "No sequence is owned by a column of a mapped target table.\n";
  } else {
    out +=
        "| sequence | table.column | before | data max | source floor | after |\n"
        "|---|---|---|---|---|---|\n";
    for (const auto& s : sequences)
      out += fmt::format("| {} | {}.{} | {} | {} | {} | {} |\n", s.sequence, s.table, s.column,
                         numberOr(s.before, "unused"), numberOr(s.dataMax, "no rows"),
                         s.floor ? fmt::format("{} ({})", s.floor->value, s.floor->from) : "-",
                         s.after ? std::to_string(*s.after) : "unchanged");
  }
  out += "\n## Verify\n\n";
  if (verify)
    out += "```\n" + verifyText(*verify) + "```\n";
  else
    out += "Not run.\n";
  return out;
}

std::string CutoverReport::json() const {
  JsonWriter w;
  w.startObject();
  w.key("kind");
  w.string("cutover");
  w.key("decision");
  w.string(go() ? "go" : "no-go");
  w.key("pipeline");
  w.string(pipeline);
  w.key("file");
  w.string(file);
  w.key("started_at");
  w.string(iso(started));
  w.key("finished_at");
  w.string(iso(finished));
  w.key("final_lsn");
  optionalLsn(w, finalLsn);
  w.key("verify_lsn");
  optionalLsn(w, verifyLsn);
  w.key("checks");
  w.startArray();
  for (const auto& c : checks) {
    w.startObject();
    w.key("name");
    w.string(c.name);
    w.key("passed");
    w.boolean(c.passed);
    w.key("details");
    w.startArray();
    for (const auto& d : c.details) w.string(d);
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.key("phases");
  w.startArray();
  for (const auto& p : phases) {
    w.startObject();
    w.key("name");
    w.string(p.name);
    w.key("started_at");
    w.string(iso(p.started));
    w.key("finished_at");
    w.string(iso(p.finished));
    w.key("seconds");
    w.real(p.seconds());
    w.key("details");
    w.startObject();
    for (const auto& [k, v] : p.details) {
      w.key(k);
      w.string(v);
    }
    w.endObject();
    w.endObject();
  }
  w.endArray();
  w.key("source_changes");
  w.startArray();
  for (const auto& c : sourceChanges) w.string(c);
  w.endArray();
  w.key("sequences");
  w.startArray();
  for (const auto& s : sequences) {
    w.startObject();
    w.key("sequence");
    w.string(s.sequence);
    w.key("table");
    w.string(s.table);
    w.key("column");
    w.string(s.column);
    w.key("before");
    optionalInt(w, s.before);
    w.key("after");
    optionalInt(w, s.after);
    w.key("data_max");
    optionalInt(w, s.dataMax);
    w.key("floor");
    optionalInt(w, s.floor ? std::optional<std::int64_t>(s.floor->value) : std::nullopt);
    w.key("floor_from");
    w.stringOrNull(s.floor ? std::optional<std::string>(s.floor->from) : std::nullopt);
    w.endObject();
  }
  w.endArray();
  w.key("verify");
  if (verify) {
    std::string v = verifyJson(*verify);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    w.raw(v);
  } else {
    w.null();
  }
  w.endObject();
  return w.text() + "\n";
}

}  // namespace pgmorph
