#include "app/metrics/Health.h"

#include <fmt/format.h>

#include <algorithm>

namespace pgmorph {

namespace {
std::string oneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

void Health::starting(const std::string& what) {
  std::lock_guard lock(mutex_);
  phase_ = Phase::Starting;
  reason_ = "not streaming yet: " + oneLine(what);
}

void Health::connecting() {
  std::lock_guard lock(mutex_);
  if (phase_ == Phase::Down) return;
  phase_ = Phase::Starting;
  reason_ = "not streaming yet: connecting";
}

void Health::streaming() {
  std::lock_guard lock(mutex_);
  phase_ = Phase::Streaming;
  reason_.clear();
  stalled_.clear();
}

void Health::down(const std::string& reason) {
  std::lock_guard lock(mutex_);
  phase_ = Phase::Down;
  reason_ = oneLine(reason);
}

void Health::stopped(const std::string& reason) {
  std::lock_guard lock(mutex_);
  phase_ = Phase::Stopped;
  reason_ = "stopped on an error: " + oneLine(reason);
}

void Health::setLagSeconds(double seconds) {
  std::lock_guard lock(mutex_);
  lagSeconds_ = seconds;
}

void Health::setStalled(const std::string& reason) {
  std::lock_guard lock(mutex_);
  stalled_ = oneLine(reason);
}

Health::Verdict Health::verdict() const {
  std::lock_guard lock(mutex_);
  if (phase_ != Phase::Streaming) return {false, reason_};
  if (lagSeconds_ > maxLagSeconds_)
    return {false, fmt::format("lag too high: {:.1f} s behind the source (max_lag_seconds {})",
                               lagSeconds_, maxLagSeconds_)};
  if (!stalled_.empty()) return {false, "stalled: " + stalled_};
  return {true, "streaming"};
}

std::string Health::sideLabel(const std::string& side) {
  if (side == "target") return "target";
  if (side == "source" || side == "replication") return "source";
  return "unknown";
}

std::string Health::describeFailure(const std::string& side, const std::string& message) {
  std::string label = sideLabel(side);
  if (label == "unknown") return "retrying: " + oneLine(message);
  return label + " down: " + oneLine(message);
}

}  // namespace pgmorph
