// SlowWalWriter: for its scope, a cluster's WAL writer flushes only every `delay` (instead of
// every 200 ms), so asynchronous commits (the test clusters run synchronous_commit=off) stay
// in the server's WAL buffers for seconds: above pg_current_wal_lsn(), and lost if the server
// crashes. Tests use it to make such windows wide enough not to depend on timing.
// Cluster-wide (ALTER SYSTEM, survives restarts until reset): fine, e2e tests run one at a
// time in their own process. The destructor resets it.
#pragma once

#include <string>

#include "tests/support/PgCluster.h"

namespace pgmorph::e2e {

class SlowWalWriter {
 public:
  // `delay` as PostgreSQL writes it: "3s" (at most 10s).
  SlowWalWriter(test::PgCluster& cluster, std::string delay);
  ~SlowWalWriter();
  SlowWalWriter(const SlowWalWriter&) = delete;
  SlowWalWriter& operator=(const SlowWalWriter&) = delete;

 private:
  test::PgCluster& cluster_;
};

}  // namespace pgmorph::e2e
