// FollowSupervisor: keeps one `pgmorph follow` running through a crash test, the way a
// service manager would, and keeps the record of what happened to it: every kill -9 it was
// asked for, and every time pgmorph exited by itself (with its status and last stderr line)
// and had to be started again.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cdc/model/Lsn.h"
#include "tests/e2e/DispatchEnvironment.h"

namespace pgmorph::e2e {

class FollowSupervisor {
 public:
  explicit FollowSupervisor(DispatchEnvironment& env);

  ChildProcess& current() { return *current_; }
  // kill -9 the running pgmorph and start a new one at once.
  void kill9AndRestart();
  // If pgmorph has exited by itself, records it (with `when`) and starts a new one.
  // Returns true if it had exited.
  bool restartIfExited(const std::string& when);
  // Waits until the checkpoint is past `lsn` (pgmorph applied source commits made after
  // it), restarting pgmorph whenever it exits. Returns how that went, for the record:
  // "pgmorph reconnected by itself" or the exits it took. Throws after `timeout`.
  std::string awaitCheckpointPast(Lsn lsn, const std::string& when, std::chrono::seconds timeout);

  int kills() const { return kills_; }
  // Every exit pgmorph made by itself, one line each.
  const std::vector<std::string>& exits() const { return exits_; }

 private:
  DispatchEnvironment& env_;
  ChildProcess* current_ = nullptr;
  int kills_ = 0;
  std::vector<std::string> exits_;
};

}  // namespace pgmorph::e2e
