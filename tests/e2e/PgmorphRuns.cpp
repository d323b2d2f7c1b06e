#include "tests/e2e/PgmorphRuns.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iostream>

namespace pgmorph::e2e {

ChildProcess& PgmorphRuns::start(const DispatchEnvironment& env, const std::string& command,
                                 std::vector<std::string> args) {
  std::vector<std::string> argv = {PGMORPH_BINARY,   command,       "-c",
                                   env.configPath(), "--log-level", "info"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string logBase =
      fmt::format("{}/{}-{:02}-{}", env.workDir(), prefix_, runs_.size() + 1, command);
  runs_.push_back(std::make_unique<ChildProcess>(std::move(argv), logBase));
  return *runs_.back();
}

int PgmorphRuns::finish(ChildProcess& p, std::chrono::seconds timeout) {
  auto status = p.waitFor(timeout);
  if (!status) {
    p.kill9();
    ADD_FAILURE() << "`" << p.commandLine() << "` did not finish within " << timeout.count()
                  << " s (killed)";
    return -1;
  }
  return *status;
}

void PgmorphRuns::printStderr() const {
  for (const auto& p : runs_)
    std::cerr << "---- " << p->commandLine() << " (status "
              << (p->exitStatus() ? std::to_string(*p->exitStatus()) : "running") << ") ----\n"
              << p->stderrText() << "\n";
}

}  // namespace pgmorph::e2e
