// CheckpointHistory: the checkpoint rows a crash test saw, in time order, each with when it was
// read. Neither the LSN nor the applied-transaction count may ever go down, whatever was killed
// or restarted in between: regressions() lists every step where one did.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/DispatchEnvironment.h"

namespace pgmorph::e2e {

class CheckpointHistory {
 public:
  // Reads the pipeline's checkpoint row now (nothing is recorded while it does not exist).
  void sample(const DispatchEnvironment& env, const std::string& when);
  // One line per step backwards ("" when there was none).
  std::string regressions() const;
  std::size_t size() const { return samples_.size(); }

 private:
  std::vector<std::pair<std::string, CheckpointRow>> samples_;
};

}  // namespace pgmorph::e2e
