// StopFlag: the one stop request of a pipeline run. Set by the signal handler of the
// runner (SIGINT/SIGTERM), read by the follower between messages; no global state.
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
