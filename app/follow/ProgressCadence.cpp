#include "app/follow/ProgressCadence.h"

namespace pgmorph {

ProgressCadence::Decision ProgressCadence::tick(bool moved, Clock::time_point now) {
  if (moved) {
    idleSince_.reset();
    lastLine_ = now;
    return Decision::Log;
  }
  if (!idleSince_) {
    // The first quiet tick still gets its line: it shows where the last changes left things.
    idleSince_ = now;
    lastLine_ = now;
    if (announced_) return Decision::Log;
    announced_ = true;
    return Decision::LogAndAnnounceIdle;
  }
  auto interval = now - *idleSince_ >= kLongIdleAfter ? kLongIdleInterval : kIdleInterval;
  if (now - lastLine_ < interval) return Decision::Skip;
  lastLine_ = now;
  return Decision::Log;
}

}  // namespace pgmorph
