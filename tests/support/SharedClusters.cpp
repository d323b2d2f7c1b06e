#include "tests/support/SharedClusters.h"

#include <memory>
#include <mutex>

namespace pgmorph::test {

namespace {
// Function-local statics: destroyed at normal process exit, which stops the servers.
std::unique_ptr<PgCluster>& slot(bool source) {
  static std::unique_ptr<PgCluster> src, tgt;
  return source ? src : tgt;
}
std::mutex& lock() {
  static std::mutex m;
  return m;
}
}  // namespace

PgCluster& sharedSource() {
  std::lock_guard g(lock());
  auto& c = slot(true);
  if (!c) c = std::make_unique<PgCluster>(PgCluster::Options{.name = "source", .logical = true, .settings = {}});
  return *c;
}

PgCluster& sharedTarget() {
  std::lock_guard g(lock());
  auto& c = slot(false);
  if (!c) c = std::make_unique<PgCluster>(PgCluster::Options{.name = "target", .logical = false, .settings = {}});
  return *c;
}

}  // namespace pgmorph::test
