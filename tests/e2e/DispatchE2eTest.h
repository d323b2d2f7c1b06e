// DispatchE2eTest: the GoogleTest fixture of every end-to-end test. Each test gets its own
// DispatchEnvironment (fresh databases, pipeline file, unique slot); when the test failed,
// the stderr of every pgmorph and pgbench it ran is printed and the work directory kept.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <vector>

#include "tests/e2e/DispatchEnvironment.h"

namespace pgmorph::e2e {

class DispatchE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { env_ = std::make_unique<DispatchEnvironment>(mappingEdits()); }
  // A fixture that needs a variant of the example mapping says which here.
  virtual std::vector<MappingEdit> mappingEdits() const { return {}; }

  void TearDown() override {
    if (!env_) return;
    if (HasFailure()) {
      std::cerr << "---- e2e diagnostics ----\n"
                << env_->diagnostics() << "-------------------------\n";
      env_->keepWorkDir();
    }
    env_.reset();
  }

  DispatchEnvironment& env() { return *env_; }

 private:
  std::unique_ptr<DispatchEnvironment> env_;
};

}  // namespace pgmorph::e2e
