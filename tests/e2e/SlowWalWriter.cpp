#include "tests/e2e/SlowWalWriter.h"

#include <chrono>
#include <stdexcept>

#include "tests/e2e/Poll.h"

namespace pgmorph::e2e {

SlowWalWriter::SlowWalWriter(test::PgCluster& cluster, std::string delay) : cluster_(cluster) {
  // A test-chosen constant, not user input: spliced as a literal (ALTER SYSTEM takes none).
  cluster_.psql("postgres", "ALTER SYSTEM SET wal_writer_delay = '" + delay + "'");
  cluster_.psql("postgres", "SELECT pg_reload_conf()");
  // The postmaster applies a reload asynchronously; new sessions see it once it has.
  if (!pollUntil(std::chrono::seconds(30),
                 [&] { return cluster_.scalar("postgres", "SHOW wal_writer_delay") == delay; }))
    throw std::runtime_error("wal_writer_delay did not change after a reload");
}

SlowWalWriter::~SlowWalWriter() {
  try {
    if (!cluster_.running()) cluster_.start();
    cluster_.psql("postgres", "ALTER SYSTEM RESET wal_writer_delay");
    cluster_.psql("postgres", "SELECT pg_reload_conf()");
  } catch (...) {
  }
}

}  // namespace pgmorph::e2e
