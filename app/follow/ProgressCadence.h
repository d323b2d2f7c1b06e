// ProgressCadence: decides, at each tick of follow's progress timer, whether a progress line is
// due. While changes flow, every tick (--progress-interval). When nothing has moved since the
// last line, less often: a line every minute for the first ten minutes of idleness, then every
// five minutes — an idle pipeline at the default 5 s wrote ~17,000 identical lines a day. The
// first time it goes quiet it says so, once per process, so that the gaps are not read as a hang.
// Back to every tick as soon as anything moves.
//
// Pure: the caller passes whether anything moved and the time (unit-tested without a clock).
#pragma once

#include <chrono>
#include <optional>

namespace pgmorph {

class ProgressCadence {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kIdleInterval{60};
  static constexpr std::chrono::seconds kLongIdleInterval{300};
  static constexpr std::chrono::minutes kLongIdleAfter{10};

  enum class Decision {
    Skip,               // nothing to say yet
    Log,                // write the progress line
    LogAndAnnounceIdle  // write it, and say (once) that idle lines now come less often
  };

  explicit ProgressCadence(Clock::time_point start) : lastLine_(start) {}

  // `moved`: anything applied, skipped or left unmapped since the previous tick.
  Decision tick(bool moved, Clock::time_point now);

 private:
  Clock::time_point lastLine_;
  std::optional<Clock::time_point> idleSince_;  // first tick at which nothing had moved
  bool announced_ = false;
};

}  // namespace pgmorph
