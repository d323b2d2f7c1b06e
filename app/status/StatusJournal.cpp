#include "app/status/StatusJournal.h"

#include <fmt/format.h>

#include <chrono>

#include "app/status/StatusReport.h"

namespace pgmorph {

namespace {

std::string row(std::string_view label, std::string_view value) {
  return fmt::format("  {:<22} {}\n", label, value);
}

std::uint64_t behind(const JournalInfo& info, const JournalInfo::Consumer& c) {
  return info.end > c.applied ? info.end.value() - c.applied.value() : 0;
}

std::int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::optional<StatusJournal> StatusJournal::read(const PipelineConfig& config) {
  StatusJournal j;
  if (config.journal.enabled()) {
    j.dir = config.journal.dir;
    j.role = "writes";
  } else if (config.source.readsJournal()) {
    j.dir = config.source.journal;
    j.role = "reads";
  } else {
    return std::nullopt;
  }
  try {
    if (!std::filesystem::exists(j.dir)) {
      j.error = "the directory does not exist (no journal written yet)";
      return j;
    }
    j.info = JournalReader(j.dir).info();
    j.readable = true;
  } catch (const std::exception& e) {
    j.error = e.what();
  }
  return j;
}

std::vector<std::string> StatusJournal::forcedPast() const {
  std::vector<std::string> names;
  if (!readable) return names;
  for (const auto& c : info.consumers)
    if (c.applied < info.start) names.push_back(c.name);
  return names;
}

std::string StatusJournal::text() const {
  std::string out = fmt::format("\njournal {} ({} it)\n", dir,
                                role == "writes" ? "this pipeline writes" : "this pipeline reads");
  if (!readable) return out + row("state", "unknown: " + error);
  out += row("range", fmt::format("transactions committing after {} up to {}", info.start.str(),
                                  info.end.str()));
  out += row("size", fmt::format("{} bytes in {} segment(s)", info.bytes, info.segments));
  if (info.consumers.empty()) out += row("consumers", "none recorded");
  for (const auto& c : info.consumers)
    out += row("consumer " + c.name,
               fmt::format("applied {}, {} bytes behind the end, recorded {}", c.applied.str(),
                           behind(info, c), formatMicros(micros(c.updated), false)));
  for (const auto& name : forcedPast())
    out += row("WARNING",
               fmt::format("retention deleted changes consumer '{}' had not applied (it is before "
                           "the journal's start {}): it cannot catch up from the journal and "
                           "needs a new snapshot; raise journal.retain_bytes to keep this from "
                           "happening again",
                           name, info.start.str()));
  return out;
}

void StatusJournal::json(JsonWriter& w) const {
  w.startObject();
  w.key("dir");
  w.string(dir);
  w.key("role");
  w.string(role);
  w.key("readable");
  w.boolean(readable);
  w.key("error");
  w.stringOrNull(readable ? std::nullopt : std::optional<std::string>(error));
  auto lsnOr = [&](Lsn l) { w.stringOrNull(readable ? std::optional(l.str()) : std::nullopt); };
  w.key("start_lsn");
  lsnOr(info.start);
  w.key("end_lsn");
  lsnOr(info.end);
  w.key("bytes");
  readable ? w.unsignedInteger(info.bytes) : w.null();
  w.key("segments");
  readable ? w.unsignedInteger(info.segments) : w.null();
  w.key("consumers");
  w.startArray();
  for (const auto& c : readable ? info.consumers : std::vector<JournalInfo::Consumer>{}) {
    w.startObject();
    w.key("name");
    w.string(c.name);
    w.key("applied_lsn");
    w.string(c.applied.str());
    w.key("behind_bytes");
    w.unsignedInteger(behind(info, c));
    w.key("updated_at");
    w.string(formatMicros(micros(c.updated), true));
    w.key("behind_retention");
    w.boolean(c.applied < info.start);
    w.endObject();
  }
  w.endArray();
  w.key("forced_retention");
  w.startArray();
  for (const auto& name : forcedPast()) w.string(name);
  w.endArray();
  w.endObject();
}

}  // namespace pgmorph
