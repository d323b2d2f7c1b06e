#include "app/follow/ProgressMeter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace pgmorph {

ProgressMeter::ProgressMeter(const ApplyStats& stats)
    : stats_(stats),
      last_(std::chrono::steady_clock::now()),
      lastChanges_(stats.changesApplied),
      cadence_(last_) {}

bool ProgressMeter::due() {
  // What a person watching the log would call "something happened". Not the checkpoint: idle
  // heartbeats move it without a change to apply.
  std::uint64_t moved = stats_.transactionsApplied + stats_.transactionsSkipped +
                        stats_.changesApplied + stats_.changesUnmapped;
  auto decision = cadence_.tick(moved != lastMoved_, std::chrono::steady_clock::now());
  lastMoved_ = moved;
  if (decision == ProgressCadence::Decision::LogAndAnnounceIdle)
    spdlog::info("no changes: while idle, progress lines come every {} s (every {} s after {} min)",
                 ProgressCadence::kIdleInterval.count(), ProgressCadence::kLongIdleInterval.count(),
                 ProgressCadence::kLongIdleAfter.count());
  return decision != ProgressCadence::Decision::Skip;
}

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
      "applied {} txns / {} changes ({:.0f} changes/s), skipped {} txns, unmapped {} changes "
      "(ignored {}), "
      "parked {} (applied later {}), checkpoint {}, lag {} B / {:.2f} s",
      stats_.transactionsApplied, stats_.changesApplied, rate, stats_.transactionsSkipped,
      stats_.changesUnmapped, stats_.changesIgnored, parked, unparked, stats_.checkpoint.str(),
      lagBytes, lagBytes == 0 ? 0.0 : stats_.lastApplyDelaySeconds);
  last_ = now;
  lastChanges_ = stats_.changesApplied;
  logTables();
  // Tables neither mapped nor ignored: their count on every line, until someone maps them or
  // lists them in ignore: (the first change of each was a warning; this line is info, so that
  // alerting on warnings fires once per table, not at every progress line).
  if (!stats_.unmapped.empty()) {
    std::string line;
    for (const auto& [table, n] : stats_.unmapped)
      line += fmt::format("{}{} {}", line.empty() ? "" : ", ", table, n);
    spdlog::info("changes skipped, neither mapped nor in ignore: (this run): {}", line);
  }
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
