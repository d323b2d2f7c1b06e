// pollUntil: the one way e2e tests wait for something. It checks a condition until it holds
// or a deadline passes, so a test never sleeps for a guessed duration and never hangs.
#pragma once

#include <chrono>
#include <thread>

namespace pgmorph::e2e {

// Returns true as soon as pred() is true, false when `timeout` has passed without it.
template <class Pred>
bool pollUntil(std::chrono::milliseconds timeout, Pred&& pred,
               std::chrono::milliseconds interval = std::chrono::milliseconds(50)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace pgmorph::e2e
