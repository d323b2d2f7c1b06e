// ConfigLoaderSlot: the optional `slot:` section of a pipeline file (SlotConfig):
//   slot:
//     heartbeat_interval_ms: 10000   # 0 = no heartbeat
//     max_retained_wal: 1GB          # bytes, or kB/MB/GB/TB (1024-based, as PostgreSQL)
#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "transform/ConfigLoaderParser.h"

namespace pgmorph::configloader {

std::optional<std::uint64_t> parseSize(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
    ++digits;
  if (digits == 0) return std::nullopt;
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || end != text.data() + digits || number < 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  double scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "kB" || unit == "KB")
    scale = 1024.0;
  else if (unit == "MB")
    scale = 1024.0 * 1024;
  else if (unit == "GB")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "TB")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  double bytes = number * scale;
  if (bytes >= static_cast<double>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

void Parser::parseSlot(const YAML::Node& n, SlotConfig& slot) const {
  r_.expectMap(n, "slot");
  r_.checkKeys(n, "slot", {"heartbeat_interval_ms", "max_retained_wal"});
  if (auto v = r_.optional(n, "heartbeat_interval_ms", "slot")) {
    std::uint64_t ms = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), ms);
    if (ec != std::errc() || end != v->data() + v->size() || ms > 3'600'000)
      r_.fail(n["heartbeat_interval_ms"], "slot.heartbeat_interval_ms",
              fmt::format("expected a whole number of milliseconds from 0 (no heartbeat) to "
                          "3600000, got '{}'",
                          *v));
    slot.heartbeatIntervalMillis = static_cast<std::uint32_t>(ms);
  }
  if (auto v = r_.optional(n, "max_retained_wal", "slot")) {
    auto bytes = parseSize(*v);
    if (!bytes)
      r_.fail(n["max_retained_wal"], "slot.max_retained_wal",
              fmt::format("'{}' is not a size: write bytes or a number with kB, MB, GB or TB "
                          "(e.g. 1GB; 0 = no limit)",
                          *v));
    slot.maxRetainedWalBytes = *bytes;
  }
}

}  // namespace pgmorph::configloader
