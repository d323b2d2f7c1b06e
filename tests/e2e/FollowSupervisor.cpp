#include "tests/e2e/FollowSupervisor.h"

#include <stdexcept>

#include <fmt/format.h>

#include "tests/e2e/Poll.h"

namespace pgmorph::e2e {

namespace {

constexpr std::size_t kMaxExits = 5;

std::string lastLine(const std::string& text) {
  std::size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "(no stderr)";
  std::size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1,
                     end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}

}  // namespace

FollowSupervisor::FollowSupervisor(DispatchEnvironment& env) : env_(env) {
  current_ = &env_.startFollow();
}

void FollowSupervisor::kill9AndRestart() {
  restartIfExited("before a kill -9");
  current_->kill9();
  ++kills_;
  current_ = &env_.startFollow();
}

bool FollowSupervisor::restartIfExited(const std::string& when) {
  if (current_->running()) return false;
  exits_.push_back(fmt::format("{}: pgmorph exited with status {}: {}", when,
                               current_->exitStatus().value_or(-1),
                               lastLine(current_->stderrText())));
  current_ = &env_.startFollow();
  return true;
}

std::string FollowSupervisor::awaitCheckpointPast(Lsn lsn, const std::string& when,
                                                  std::chrono::seconds timeout) {
  std::size_t exitsBefore = exits_.size();
  std::string lastError;
  bool reached = pollUntil(
      timeout,
      [&] {
        // A pgmorph that keeps failing the same way will not get better by being restarted
        // for two minutes: give up early with what it said.
        if (exits_.size() - exitsBefore >= kMaxExits)
          throw std::runtime_error(fmt::format("{}: pgmorph exited {} times in a row; last: {}",
                                               when, exits_.size() - exitsBefore, exits_.back()));
        restartIfExited(when);
        try {
          auto cp = env_.checkpoint();
          return cp && cp->lsn > lsn;
        } catch (const std::exception& e) {
          lastError = e.what();  // the target may still be refusing connections
          return false;
        }
      },
      std::chrono::milliseconds(100));
  if (!reached)
    throw std::runtime_error(fmt::format("{}: the checkpoint did not pass {} within {} s{}", when,
                                         lsn.str(), timeout.count(),
                                         lastError.empty() ? "" : "; last error: " + lastError));
  if (exits_.size() == exitsBefore) return when + ": pgmorph reconnected by itself";
  std::string out = fmt::format("{}: pgmorph exited {} time(s) and was restarted by the test", when,
                                exits_.size() - exitsBefore);
  for (std::size_t i = exitsBefore; i < exits_.size(); ++i) out += "\n    " + exits_[i];
  return out;
}

}  // namespace pgmorph::e2e
