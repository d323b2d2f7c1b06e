// ChildProcess owns one program started by an end-to-end test (pgmorph, pgbench): its pid,
// and the files its stdout and stderr go to. It never outlives the test that started it:
// the destructor kills a process that is still running (SIGKILL) and reaps it, so a
// failing assertion cannot leave a pgmorph streaming from a slot or a pgbench writing.
//
// Waiting always has a deadline: a hung child fails the test instead of hanging CI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgmorph::e2e {

class ChildProcess {
 public:
  // Starts argv[0] (an absolute path) with stdin from /dev/null, stdout to
  // `<logBase>.stdout` and stderr to `<logBase>.stderr`. `env` entries ("NAME=value") are
  // added to the test's own environment. Throws std::runtime_error if it cannot start.
  ChildProcess(std::vector<std::string> argv, std::string logBase,
               std::vector<std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it when it has).
  bool running();
  // Sends a signal if the process is still running.
  void signal(int sig);
  // Waits up to `timeout` for the process to exit; returns its exit status (128 + signal
  // number when killed by a signal), or nullopt if it is still running.
  std::optional<int> waitFor(std::chrono::milliseconds timeout);
  // SIGKILL and reap; returns the exit status (137 unless it had already exited).
  int kill9();
  // Exit status once it has exited.
  std::optional<int> exitStatus() const { return status_; }

  std::string stdoutText() const;
  std::string stderrText() const;
  const std::string& logBase() const { return logBase_; }
  // "pgmorph follow -c ..." for messages.
  std::string commandLine() const;

 private:
  bool reap(bool block);

  std::vector<std::string> argv_;
  std::string logBase_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace pgmorph::e2e
