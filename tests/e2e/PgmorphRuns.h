// PgmorphRuns: the `pgmorph` processes one test starts, in order. It runs each with the
// environment's pipeline file, names its log files `<workDir>/<prefix>-NN-<command>`, waits
// for one with a deadline (a process that overstays is killed and fails the test), prints
// their stderr when the test has failed, and kills what still runs when cleared — which a
// fixture does before the environment drops the databases.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/DispatchEnvironment.h"

namespace pgmorph::e2e {

class PgmorphRuns {
 public:
  explicit PgmorphRuns(std::string prefix) : prefix_(std::move(prefix)) {}

  // Starts `pgmorph <command> -c <pipeline> --log-level info [args]`.
  ChildProcess& start(const DispatchEnvironment& env, const std::string& command,
                      std::vector<std::string> args = {});
  // The exit status, or -1 after killing a process that did not finish within `timeout`.
  static int finish(ChildProcess& p, std::chrono::seconds timeout);
  // Every process's command line, status and stderr, to std::cerr.
  void printStderr() const;
  // Kills (-9) and reaps what still runs.
  void clear() { runs_.clear(); }

 private:
  std::string prefix_;
  std::vector<std::unique_ptr<ChildProcess>> runs_;
};

}  // namespace pgmorph::e2e
