#include "app/follow/ProgressMeter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pgmorph {

ProgressMeter::ProgressMeter(const ApplyStats& stats)
    : stats_(stats), last_(std::chrono::steady_clock::now()), lastChanges_(stats.changesApplied) {}

void ProgressMeter::log(Lsn sourceCurrent) {
  auto now = std::chrono::steady_clock::now();
  double seconds = std::chrono::duration<double>(now - last_).count();
  double rate =
      seconds > 0 ? static_cast<double>(stats_.changesApplied - lastChanges_) / seconds : 0;
  std::uint64_t lagBytes =
      sourceCurrent > stats_.checkpoint ? sourceCurrent.value() - stats_.checkpoint.value() : 0;
  std::uint64_t parked = 0, unparked = 0;
  for (const auto& [table, c] : stats_.tables) {
    parked += c.parked;
    unparked += c.unparked;
  }
  spdlog::info(
      "applied {} txns / {} changes ({:.0f} changes/s), skipped {} txns, unmapped {} changes, "
      "parked {} (applied later {}), checkpoint {}, lag {} B / {:.2f} s",
      stats_.transactionsApplied, stats_.changesApplied, rate, stats_.transactionsSkipped,
      stats_.changesUnmapped, parked, unparked, stats_.checkpoint.str(), lagBytes,
      lagBytes == 0 ? 0.0 : stats_.lastApplyDelaySeconds);
  last_ = now;
  lastChanges_ = stats_.changesApplied;
  logTables();
}

void ProgressMeter::logTables() const {
  // Nothing disappears silently: per table, what was applied, filtered by the mapping, parked
  // (and, of the parked, applied later or made moot), and references written as NULL.
  std::string line;
  for (const auto& [table, c] : stats_.tables) {
    if (c.applied + c.filtered + c.parked + c.unparked + c.discarded + c.nulled == 0) continue;
    if (!line.empty()) line += ", ";
    line += fmt::format("{} {}/{}/{}/{}/{}/{}", table, c.applied, c.filtered, c.parked, c.unparked,
                        c.discarded, c.nulled);
  }
  if (!line.empty())
    spdlog::info(
        "per table (writes applied/changes filtered/parked/parked then applied/parked then "
        "discarded/references nulled): {}",
        line);
}

}  // namespace pgmorph
