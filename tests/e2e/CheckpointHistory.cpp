#include "tests/e2e/CheckpointHistory.h"

#include <fmt/format.h>

namespace pgmorph::e2e {

void CheckpointHistory::sample(const DispatchEnvironment& env, const std::string& when) {
  if (auto cp = env.checkpoint()) samples_.push_back({when, *cp});
}

std::string CheckpointHistory::regressions() const {
  std::string out;
  for (std::size_t i = 1; i < samples_.size(); ++i) {
    const auto& [w0, a] = samples_[i - 1];
    const auto& [w1, b] = samples_[i];
    if (b.lsn < a.lsn || b.appliedTransactions < a.appliedTransactions)
      out += fmt::format("  {} ({} / {} txns) -> {} ({} / {} txns)\n", w0, a.lsn.str(),
                         a.appliedTransactions, w1, b.lsn.str(), b.appliedTransactions);
  }
  return out;
}

}  // namespace pgmorph::e2e
