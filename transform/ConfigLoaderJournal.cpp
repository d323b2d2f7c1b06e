// ConfigLoaderJournal: the optional `journal:` section of a pipeline file (JournalConfig):
//   journal:
//     dir: /var/lib/pgmorph/journal   # relative: from the pipeline file's directory
//     retain_bytes: 20GB              # 0 / absent = no limit
//     retain_age: 7d                  # s, m, h or d; 0 / absent = no limit
//     segment_bytes: 64MB
//     confirm: journal                # or target
//     compress: false
// and source.journal's directory (resolveDir).
#include <fmt/format.h>

#include <charconv>
#include <filesystem>

#include "transform/ConfigLoaderParser.h"

namespace pgmorph::configloader {

namespace {

// "3600", "90s", "30m", "12h", "7d": seconds. nullopt when the text is not such a duration.
std::optional<std::uint64_t> parseDuration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits) return std::nullopt;
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1;
  else if (unit == "m" || unit == "min")
    scale = 60;
  else if (unit == "h")
    scale = 3600;
  else if (unit == "d")
    scale = 86400;
  else
    return std::nullopt;
  if (number > (std::uint64_t{1} << 40)) return std::nullopt;
  return number * scale;
}

}  // namespace

std::string Parser::resolveDir(const std::string& written) const {
  // Path arithmetic only (transform does no I/O): the directory need not exist yet.
  std::filesystem::path p(written);
  if (p.is_relative()) p = std::filesystem::path(r_.file()).parent_path() / p;
  return p.lexically_normal().string();
}

void Parser::parseJournal(const YAML::Node& n, JournalConfig& journal) const {
  r_.expectMap(n, "journal");
  r_.checkKeys(n, "journal",
               {"dir", "retain_bytes", "retain_age", "segment_bytes", "confirm", "compress"});
  std::string dir = r_.required(n, "dir", "journal");
  if (dir.empty()) r_.fail(n["dir"], "journal.dir", "must name a directory on local disk");
  journal.dir = resolveDir(dir);
  auto size = [&](std::string_view key, std::uint64_t& out, std::uint64_t minimum) {
    auto v = r_.optional(n, key, "journal");
    if (!v) return;
    auto bytes = parseSize(*v);
    std::string path = fmt::format("journal.{}", key);
    if (!bytes)
      r_.fail(n[std::string(key)], path,
              fmt::format("'{}' is not a size: write bytes or a number with kB, MB, GB or TB "
                          "(e.g. 20GB)",
                          *v));
    if (*bytes != 0 && *bytes < minimum)
      r_.fail(n[std::string(key)], path,
              fmt::format("{} bytes is too small: at least {} bytes", *bytes, minimum));
    out = *bytes;
  };
  size("retain_bytes", journal.retainBytes, 1 << 20);
  size("segment_bytes", journal.segmentBytes, 64 << 10);
  if (journal.segmentBytes == 0)
    r_.fail(n["segment_bytes"], "journal.segment_bytes", "must be above 0 (e.g. 64MB)");
  if (auto v = r_.optional(n, "retain_age", "journal")) {
    auto seconds = parseDuration(*v);
    if (!seconds)
      r_.fail(n["retain_age"], "journal.retain_age",
              fmt::format("'{}' is not a duration: write seconds or a number with s, m, h or d "
                          "(e.g. 7d; 0 = no limit)",
                          *v));
    journal.retainAgeSeconds = *seconds;
  }
  if (auto v = r_.optional(n, "confirm", "journal")) {
    if (*v == "journal")
      journal.confirm = JournalConfig::Confirm::Journal;
    else if (*v == "target")
      journal.confirm = JournalConfig::Confirm::Target;
    else
      r_.fail(n["confirm"], "journal.confirm",
              fmt::format("'{}' is not who confirms the slot: expected journal (once the "
                          "journal is durable) or target (once the target committed)",
                          *v));
  }
  if (auto v = r_.optional(n, "compress", "journal")) {
    if (*v == "true")
      journal.compress = true;
    else if (*v != "false")
      r_.fail(n["compress"], "journal.compress",
              fmt::format("expected true or false, got '{}'", *v));
  }
}

}  // namespace pgmorph::configloader
