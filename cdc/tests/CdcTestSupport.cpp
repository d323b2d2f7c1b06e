#include "cdc/tests/CdcTestSupport.h"

#include <fmt/format.h>

#include <mutex>
#include <random>
#include <thread>

#include "tests/support/SharedClusters.h"

namespace pgmorph::test {

void allowWal2json(PgCluster& cluster) {
  auto allowed = [&] {
    return cluster.scalar("postgres", "SHOW output_plugin_libraries").find("wal2json") !=
           std::string::npos;
  };
  if (cluster.scalar("postgres",
                     "SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'") ==
          "0" ||
      allowed())
    return;
  cluster.psql("postgres",
               "ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json");
  cluster.psql("postgres", "SELECT pg_reload_conf()");
  // The postmaster applies the reload asynchronously; new sessions see it once it has.
  if (!waitFor(allowed))
    throw std::runtime_error("output_plugin_libraries still lacks wal2json after a reload");
}

PgCluster& wal2jsonSource() {
  static std::once_flag once;
  PgCluster& cluster = sharedSource();
  std::call_once(once, [&] { allowWal2json(cluster); });
  return cluster;
}

std::string uniqueSlotName(std::string_view prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex m;
  std::lock_guard g(m);
  return fmt::format("pgmorph_{}_{:x}", prefix, rng() & 0xffffffffffULL);
}

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void dropSlotsOf(PgCluster& cluster, const std::string& database) {
  std::string where = fmt::format("database = '{}'", database);  // test-made name: [a-z0-9_]
  bool gone = waitFor(
      [&] {
        try {
          cluster.scalar("postgres",
                         "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots"
                         " WHERE active AND " +
                             where);
          // A walsender may still hold a slot for a moment after its client left.
          cluster.scalar("postgres",
                         "SELECT count(pg_drop_replication_slot(slot_name)) FROM"
                         " pg_replication_slots WHERE NOT active AND " +
                             where);
        } catch (const std::runtime_error&) {
          return false;
        }
        return cluster.scalar("postgres",
                              "SELECT count(*) FROM pg_replication_slots WHERE " + where) == "0";
      },
      std::chrono::seconds(10));
  if (!gone) ADD_FAILURE() << "could not drop the replication slots of database " << database;
}

void SourceDatabaseTest::SetUp() {
  db_ = source().createDatabase("cdc");
}

void SourceDatabaseTest::TearDown() {
  if (db_.empty()) return;
  dropSlotsOf(source(), db_);
  source().dropDatabase(db_);
}

}  // namespace pgmorph::test
