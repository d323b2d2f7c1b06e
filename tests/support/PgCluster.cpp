#include "tests/support/PgCluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace pgmorph::test {

namespace fs = std::filesystem;

std::string pgBin(std::string_view name) {
  return fmt::format("/usr/lib/postgresql/15/bin/{}", name);
}

std::string sourceDir() {
  const char* d = std::getenv("PGMORPH_SOURCE_DIR");
  if (d && *d) return d;
#ifdef PGMORPH_SOURCE_DIR_DEFAULT
  return PGMORPH_SOURCE_DIR_DEFAULT;
#else
  return ".";
#endif
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {
bool isRoot() {
  return ::geteuid() == 0;
}
}  // namespace

bool serverKnowsSetting(std::string_view name) {
  std::string out;
  runProcess({pgBin("postgres"), "--describe-config"}, &out, true);
  std::string needle = "\n" + std::string(name) + "\t";
  return out.rfind(std::string(name) + "\t", 0) == 0 || out.find(needle) != std::string::npos;
}

int runProcess(const std::vector<std::string>& argvIn, std::string* captured, bool asPostgresUser) {
  std::vector<std::string> argv;
  if (asPostgresUser && isRoot()) {
    argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  }
  argv.insert(argv.end(), argvIn.begin(), argvIn.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  int pipefd[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (captured) {
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe() failed");
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
    posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (captured) ::close(pipefd[1]);
  if (rc != 0) {
    if (captured) ::close(pipefd[0]);
    throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  if (captured) {
    captured->clear();
    std::array<char, 4096> buf;
    ssize_t n;
    while ((n = ::read(pipefd[0], buf.data(), buf.size())) > 0) captured->append(buf.data(), n);
    ::close(pipefd[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

PgCluster::PgCluster(Options options) : options_(std::move(options)) {
  std::string tmpl =
      (fs::temp_directory_path() / fmt::format("pgmorph-test-{}-XXXXXX", options_.name)).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  dataDir_ = dir_ + "/data";
  if (isRoot()) {
    passwd* pw = ::getpwnam("postgres");
    if (!pw)
      throw std::runtime_error(
          "no 'postgres' user: install postgresql-15 (deploy/install-deps.sh)");
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot chown " + dir_);
  }
  ::chmod(dir_.c_str(), 0755);
  std::string out;
  int rc = runProcess({pgBin("initdb"), "-D", dataDir_, "-U", "postgres", "--auth=trust",
                       "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"},
                      &out, true);
  if (rc != 0) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw std::runtime_error("initdb failed: " + out);
  }
  port_ = freePort();
  {
    std::ofstream conf(dataDir_ + "/postgresql.conf", std::ios::app);
    conf << "port = " << port_ << "\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_ << "'\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "shared_buffers = 128MB\nmax_connections = 50\n"
         << "log_min_messages = warning\n";
    if (options_.logical) {
      conf << "wal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\n"
           << "wal_sender_timeout = 60s\n";
      // PostgreSQL 15.19+ only lets the output plugins listed here decode (wal2json is not
      // in the default list); older servers do not know the setting and would refuse it.
      if (serverKnowsSetting("output_plugin_libraries"))
        conf << "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'\n";
    }
    for (const auto& s : options_.settings) conf << s << "\n";
  }
  start();
}

PgCluster::~PgCluster() {
  try {
    if (running_) stop(true);
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgCluster::conninfo(std::string_view dbname) const {
  return fmt::format("host=127.0.0.1 port={} user=postgres dbname={}", port_, dbname);
}

std::string PgCluster::conninfoAs(std::string_view role, std::string_view password,
                                  std::string_view dbname) const {
  return fmt::format("host=127.0.0.1 port={} user={} password={} dbname={}", port_, role, password,
                     dbname);
}

void PgCluster::requirePassword(std::string_view role, std::string_view password) {
  psql("postgres", fmt::format("SET password_encryption = 'scram-sha-256';\n"
                               "DO $$BEGIN CREATE ROLE {0} LOGIN; EXCEPTION WHEN duplicate_object "
                               "THEN NULL; END$$;\n"
                               "ALTER ROLE {0} PASSWORD '{1}';",
                               role, password));
  std::string hbaPath = dataDir_ + "/pg_hba.conf";
  std::string line = fmt::format("host all {} 127.0.0.1/32 scram-sha-256", role);
  std::string hba;
  {
    std::ifstream in(hbaPath);
    hba.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (hba.find(line) == std::string::npos) {
    std::ofstream out(hbaPath, std::ios::trunc);  // keeps the file's owner (postgres)
    out << line << "\n" << hba;
  }
  psql("postgres", "SELECT pg_reload_conf()");
  // The postmaster rereads pg_hba.conf on SIGHUP, asynchronously: give it a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

void PgCluster::start() {
  std::string out;
  int rc = runProcess(
      {pgBin("pg_ctl"), "-D", dataDir_, "-l", dir_ + "/server.log", "-w", "-t", "60", "start"},
      &out, true);
  if (rc != 0) {
    std::string log;
    std::ifstream in(dir_ + "/server.log");
    log.assign(std::istreambuf_iterator<char>(in), {});
    throw std::runtime_error(fmt::format("pg_ctl start failed: {}\n{}", out, log));
  }
  running_ = true;
}

void PgCluster::stop(bool immediate) {
  std::string out;
  int rc = runProcess({pgBin("pg_ctl"), "-D", dataDir_, "-w", "-t", "60", "-m",
                       immediate ? "immediate" : "fast", "stop"},
                      &out, true);
  running_ = false;
  if (rc != 0) throw std::runtime_error("pg_ctl stop failed: " + out);
}

void PgCluster::restart(bool immediate) {
  stop(immediate);
  start();
}

std::string PgCluster::psql(std::string_view dbname, std::string_view sql) const {
  std::string out;
  int rc = runProcess({pgBin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo(dbname),
                       "-c", std::string(sql)},
                      &out);
  if (rc != 0)
    throw std::runtime_error(fmt::format("psql failed ({}): {}", sql.substr(0, 200), out));
  return out;
}

std::string PgCluster::scalar(std::string_view dbname, std::string_view sql) const {
  std::string out;
  int rc = runProcess({pgBin("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
                       conninfo(dbname), "-c", std::string(sql)},
                      &out);
  if (rc != 0)
    throw std::runtime_error(fmt::format("psql failed ({}): {}", sql.substr(0, 200), out));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

void PgCluster::psqlFile(std::string_view dbname, const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& vars) const {
  std::vector<std::string> argv = {pgBin("psql"),    "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                   conninfo(dbname), "-f", path};
  for (const auto& [k, v] : vars) {
    argv.push_back("-v");
    argv.push_back(k + "=" + v);
  }
  std::string out;
  int rc = runProcess(argv, &out);
  if (rc != 0) throw std::runtime_error(fmt::format("psql -f {} failed: {}", path, out));
}

std::string PgCluster::createDatabase(std::string_view prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string name = fmt::format("{}_{:x}", prefix, rng() & 0xffffffffffULL);
  psql("postgres", fmt::format("CREATE DATABASE \"{}\"", name));
  return name;
}

void PgCluster::dropDatabase(std::string_view name) {
  psql("postgres", fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name));
}

void PgCluster::dropReplicationSlot(std::string_view slot) {
  psql("postgres", fmt::format("SELECT pg_drop_replication_slot(slot_name) FROM "
                               "pg_replication_slots WHERE slot_name = '{}'",
                               slot));
}

}  // namespace pgmorph::test
