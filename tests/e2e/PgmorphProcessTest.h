// PgmorphProcessTest: the fixture of e2e tests that run `pgmorph` as child processes
// (PgmorphRuns). On failure their stderr is printed; they are killed and reaped before the
// environment drops the databases.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/PgmorphRuns.h"

namespace pgmorph::e2e {

class PgmorphProcessTest : public DispatchE2eTest {
 protected:
  // `logPrefix` names the processes' log files in the work directory.
  explicit PgmorphProcessTest(std::string logPrefix) : pgmorphs_(std::move(logPrefix)) {}

  void TearDown() override {
    if (HasFailure()) pgmorphs_.printStderr();
    pgmorphs_.clear();
    DispatchE2eTest::TearDown();
  }

  ChildProcess& startPgmorph(const std::string& command, std::vector<std::string> args = {}) {
    return pgmorphs_.start(env(), command, std::move(args));
  }
  static int finish(ChildProcess& p, std::chrono::seconds timeout) {
    return PgmorphRuns::finish(p, timeout);
  }

  PgmorphRuns pgmorphs_;
};

}  // namespace pgmorph::e2e
