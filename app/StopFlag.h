// StopFlag: the one stop request of a command's run. Set on SIGINT/SIGTERM (StopSignals) or
// by the command itself, read by the follower between messages and by the snapshot's workers
// between rows; each command owns its own (no global state).
#pragma once

#include <atomic>

namespace pgmorph {

class StopFlag {
 public:
  void request() { requested_.store(true, std::memory_order_relaxed); }
  bool requested() const { return requested_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> requested_{false};
};

}  // namespace pgmorph
