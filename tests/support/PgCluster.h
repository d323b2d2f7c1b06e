// PgCluster owns one throwaway PostgreSQL 15 cluster for tests: initdb in a fresh
// temporary directory, started on a free port with its socket in that directory, stopped
// and removed on destruction (also when a test fails). PostgreSQL refuses to run as root,
// so when the tests run as root (CI does) the server runs as the `postgres` user.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmorph::test {

class PgCluster {
 public:
  struct Options {
    std::string name = "pg";            // tag in the directory name and logs
    bool logical = false;               // wal_level=logical, slots and senders for replication
    std::vector<std::string> settings;  // extra postgresql.conf lines
  };

  explicit PgCluster(Options options);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  const std::string& socketDir() const { return dir_; }
  // libpq conninfo for a database of this cluster (user postgres, over TCP on 127.0.0.1).
  std::string conninfo(std::string_view dbname = "postgres") const;

  void start();
  void stop(bool immediate = false);  // immediate = crash-like shutdown (no checkpoint)
  void restart(bool immediate = false);
  bool running() const { return running_; }

  // Runs SQL through psql (so psql meta-commands work); throws with psql's output on error.
  std::string psql(std::string_view dbname, std::string_view sql) const;
  // Runs a file through psql with -v name=value variables.
  void psqlFile(std::string_view dbname, const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& vars = {}) const;
  // One value (first column of first row) of a query, via psql -At.
  std::string scalar(std::string_view dbname, std::string_view sql) const;

  // Creates (or resets) login role `role` with `password` and makes the server ask it for its
  // password over TCP (a scram-sha-256 line at the top of pg_hba.conf, then a reload); every
  // other role keeps trust. For tests of authentication failures. Returns the role's conninfo
  // for `dbname` with `password` (which may be a wrong one).
  std::string conninfoAs(std::string_view role, std::string_view password,
                         std::string_view dbname) const;
  void requirePassword(std::string_view role, std::string_view password);

  // A fresh database with a random name; returns the name.
  std::string createDatabase(std::string_view prefix = "t");
  void dropDatabase(std::string_view name);
  // Drops the logical replication slot `slot` if it exists (a test's teardown).
  void dropReplicationSlot(std::string_view slot);

 private:
  Options options_;
  std::string dir_;
  std::string dataDir_;
  int port_ = 0;
  bool running_ = false;
};

// Runs argv, returns exit status; output goes to `outputFile` (or is captured into
// *captured when given). Throws std::runtime_error if it cannot be started.
int runProcess(const std::vector<std::string>& argv, std::string* captured = nullptr,
               bool asPostgresUser = false);

// Path of a binary of the PostgreSQL 15 server package.
std::string pgBin(std::string_view name);

// Whether this PostgreSQL 15 build knows a server setting (postgres --describe-config).
bool serverKnowsSetting(std::string_view name);

// A TCP port on 127.0.0.1 that nothing listens on right now.
int freePort();

// Root of the source tree (tests read deploy/examples/...); from PGMORPH_SOURCE_DIR.
std::string sourceDir();

}  // namespace pgmorph::test
