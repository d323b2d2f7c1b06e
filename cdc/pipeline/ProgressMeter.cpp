#include "cdc/pipeline/ProgressMeter.h"

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
  spdlog::info(
      "applied {} txns / {} changes ({:.0f} changes/s), skipped {} txns, unmapped {} changes, "
      "checkpoint {}, lag {} B / {:.2f} s",
      stats_.transactionsApplied, stats_.changesApplied, rate, stats_.transactionsSkipped,
      stats_.changesUnmapped, stats_.checkpoint.str(), lagBytes,
      lagBytes == 0 ? 0.0 : stats_.lastApplyDelaySeconds);
  last_ = now;
  lastChanges_ = stats_.changesApplied;
}

}  // namespace pgmorph
