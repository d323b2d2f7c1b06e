#include "tests/e2e/DispatchEnvironment.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "tests/e2e/ExampleConfig.h"
#include "tests/e2e/Poll.h"
#include "tests/support/SharedClusters.h"

#ifndef PGMORPH_BINARY
#error "PGMORPH_BINARY must name the pgmorph binary (tests/CMakeLists.txt defines it)"
#endif

namespace pgmorph::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string randomSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:010x}", rng() & 0xffffffffffULL);
}

std::string exampleFile(const std::string& name) {
  return test::sourceDir() + "/deploy/examples/dispatch/" + name;
}

// The last `lines` lines of text.
std::string tail(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  for (std::size_t n = 0; n <= lines; ++n) {
    if (pos == 0) return text;
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return fmt::format("[... {} bytes before ...]\n{}", pos + 1, text.substr(pos + 1));
}

std::optional<std::string_view> param(const std::string& s) {
  return std::string_view(s);
}

// Recent minor releases (15.19+) only let slots use the plugins listed in
// output_plugin_libraries; the shared source must allow wal2json, as the README tells users.
// Once per process: the setting is cluster-wide and survives restarts (ALTER SYSTEM).
void allowWal2json(test::PgCluster& cluster) {
  static std::once_flag once;
  std::call_once(once, [&] {
    auto listed = [&] {
      return cluster.scalar("postgres", "SHOW output_plugin_libraries").find("wal2json") !=
             std::string::npos;
    };
    if (cluster.scalar("postgres",
                       "SELECT count(*) FROM pg_settings "
                       "WHERE name = 'output_plugin_libraries'") == "0" ||
        listed())
      return;
    cluster.psql("postgres",
                 "ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json");
    cluster.psql("postgres", "SELECT pg_reload_conf()");
    // The postmaster applies a reload asynchronously; new sessions see it once it has.
    if (!pollUntil(30s, listed))
      throw std::runtime_error("output_plugin_libraries still lacks wal2json after a reload");
  });
}

}  // namespace

DispatchEnvironment::DispatchEnvironment(std::vector<MappingEdit> edits) {
  std::string tmpl = (fs::temp_directory_path() / "pgmorph-e2e-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  workDir_ = tmpl;
  const char* level = std::getenv("PGMORPH_E2E_LOG_LEVEL");
  logLevel_ = level && *level ? level : "info";
  const char* keep = std::getenv("PGMORPH_E2E_KEEP");
  keepWorkDir_ = keep && *keep && std::string_view(keep) != "0";

  std::string suffix = randomSuffix();
  pipeline_ = "e2e_" + suffix;
  slot_ = "pgmorph_e2e_" + suffix;  // slots are cluster-wide: unique per test
  stateSchema_ = "pgmorph_e2e_state";
  idNamespace_ = exampleIdNamespace();

  try {
    allowWal2json(source());
    sourceDb_ = source().createDatabase("e2e_src");
    targetDb_ = target().createDatabase("e2e_tgt");
    source().psqlFile(sourceDb_, exampleFile("source.sql"));
    // The projection derives ids on the source with uuid-ossp, independently of pgmorph.
    source().psql(sourceDb_, "CREATE EXTENSION \"uuid-ossp\"");
    target().psqlFile(targetDb_, exampleFile("target.sql"));

    configPath_ = workDir_ + "/pipeline.yaml";
    writePipelineFile(configPath_,
                      exampleConfig(ExampleSettings{sourceConninfo(), targetConninfo(), pipeline_,
                                                    slot_, stateSchema_, std::move(edits)}));
  } catch (...) {
    cleanup();  // a destructor does not run for a half-built object
    throw;
  }
}

DispatchEnvironment::~DispatchEnvironment() {
  cleanup();
}

void DispatchEnvironment::cleanup() noexcept {
  // Children first: a pgmorph still streaming keeps the slot active and the databases busy.
  for (auto& c : children_) c->kill9();
  try {
    if (!source().running()) source().start();
    if (!target().running()) target().start();
  } catch (const std::exception& e) {
    std::cerr << "e2e cleanup: cannot restart a cluster: " << e.what() << "\n";
  }
  try {
    dropSlot();
  } catch (const std::exception& e) {
    std::cerr << "e2e cleanup: cannot drop slot " << slot_ << ": " << e.what() << "\n";
  }
  for (auto [cluster, db] : {std::pair{&source(), sourceDb_}, std::pair{&target(), targetDb_}}) {
    if (db.empty()) continue;
    try {
      cluster->dropDatabase(db);
    } catch (const std::exception& e) {
      std::cerr << "e2e cleanup: cannot drop database " << db << ": " << e.what() << "\n";
    }
  }
  if (keepWorkDir_) {
    std::cerr << "e2e: logs and pipeline file kept in " << workDir_ << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(workDir_, ec);
  }
}

test::PgCluster& DispatchEnvironment::source() const {
  return test::sharedSource();
}
test::PgCluster& DispatchEnvironment::target() const {
  return test::sharedTarget();
}
std::string DispatchEnvironment::sourceConninfo() const {
  return source().conninfo(sourceDb_);
}
std::string DispatchEnvironment::targetConninfo() const {
  return target().conninfo(targetDb_);
}
PgConnection DispatchEnvironment::connectSource() const {
  return PgConnection(sourceConninfo(), "e2e source");
}
PgConnection DispatchEnvironment::connectTarget() const {
  return PgConnection(targetConninfo(), "e2e target");
}

ChildProcess& DispatchEnvironment::spawn(std::vector<std::string> argv, const std::string& tag) {
  std::string logBase = fmt::format("{}/{:02}-{}", workDir_, children_.size() + 1, tag);
  children_.push_back(std::make_unique<ChildProcess>(std::move(argv), logBase));
  return *children_.back();
}

ChildProcess& DispatchEnvironment::startFollow(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {PGMORPH_BINARY, "follow",      "-c",
                                   configPath_,    "--log-level", logLevel_};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return spawn(std::move(argv), "pgmorph");
}

RunResult DispatchEnvironment::runFollowUntilCaughtUp(Seconds timeout, bool flushSourceFirst) {
  if (flushSourceFirst) flushSourceWal();
  auto start = std::chrono::steady_clock::now();
  ChildProcess& p = startFollow({"--until-caught-up"});
  auto status = p.waitFor(timeout);
  if (!status) {
    p.kill9();
    throw std::runtime_error(
        fmt::format("`{}` did not finish within {} s (killed); its stderr:\n{}", p.commandLine(),
                    timeout.count(), tail(p.stderrText(), 60)));
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return RunResult{*status, p.stderrText(), took.count()};
}

RunResult DispatchEnvironment::runFollowExpectingExit(Seconds timeout) {
  auto start = std::chrono::steady_clock::now();
  ChildProcess& p = startFollow();
  auto status = p.waitFor(timeout);
  if (!status) {
    p.kill9();
    throw std::runtime_error(fmt::format(
        "`{}` was expected to stop with an error but was still running after {} s (killed); "
        "its stderr:\n{}",
        p.commandLine(), timeout.count(), tail(p.stderrText(), 60)));
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return RunResult{*status, p.stderrText(), took.count()};
}

int DispatchEnvironment::stopGracefully(ChildProcess& process, Seconds timeout) {
  process.signal(SIGINT);
  auto status = process.waitFor(timeout);
  if (!status) {
    process.kill9();
    throw std::runtime_error(fmt::format("`{}` did not stop within {} s of SIGINT (killed)",
                                         process.commandLine(), timeout.count()));
  }
  return *status;
}

void DispatchEnvironment::loadSampleData(int scale) const {
  source().psqlFile(sourceDb_, exampleFile("sample-data.sql"),
                    {{"scale", std::to_string(scale)}, {"warts", "0"}});
}

ChildProcess& DispatchEnvironment::startWriter(Seconds duration, int ratePerSecond, int scale) {
  std::vector<std::string> argv = {
      test::pgBin("pgbench"),        "-n", "-c", "2", "-T", std::to_string(duration.count()), "-D",
      fmt::format("scale={}", scale)};
  if (ratePerSecond > 0) {
    argv.push_back("-R");
    argv.push_back(std::to_string(ratePerSecond));
  }
  argv.push_back("-f");
  argv.push_back(test::sourceDir() + "/tests/workload/oltp.sql");
  argv.push_back(sourceConninfo());
  return spawn(std::move(argv), "pgbench");
}

void DispatchEnvironment::finishWriter(ChildProcess& writer, Seconds grace) {
  auto status = writer.waitFor(grace);
  if (!status) {
    writer.kill9();
    throw std::runtime_error(
        fmt::format("pgbench did not end within {} s of its duration (killed)", grace.count()));
  }
  if (*status != 0)
    throw std::runtime_error(fmt::format("pgbench exited with {}:\n{}{}", *status,
                                         tail(writer.stdoutText(), 20),
                                         tail(writer.stderrText(), 20)));
}

std::optional<SlotState> DispatchEnvironment::slotState() const {
  PgConnection c(source().conninfo("postgres"), "e2e source");
  auto res = c.execParams(
      "SELECT confirmed_flush_lsn::text, active_pid FROM pg_replication_slots "
      "WHERE slot_name = $1",
      {param(slot_)});
  if (res.rows() == 0) return std::nullopt;
  SlotState s;
  if (!res.isNull(0, 0)) s.confirmedFlush = Lsn::parse(res.value(0, 0));
  if (!res.isNull(0, 1)) s.activePid = std::stoi(std::string(res.value(0, 1)));
  return s;
}

void DispatchEnvironment::waitForSlot(ChildProcess& pgmorph, bool streaming,
                                      Seconds timeout) const {
  bool ready = pollUntil(timeout, [&] {
    if (!pgmorph.running()) return true;
    auto s = slotState();
    return s && s->confirmedFlush && (!streaming || s->activePid);
  });
  if (!pgmorph.running())
    throw std::runtime_error(fmt::format("pgmorph exited with {} before slot {} was ready:\n{}",
                                         pgmorph.exitStatus().value_or(-1), slot_,
                                         tail(pgmorph.stderrText(), 40)));
  if (!ready)
    throw std::runtime_error(fmt::format("slot {} not {} after {} s", slot_,
                                         streaming ? "streaming" : "created", timeout.count()));
}

std::optional<CheckpointRow> DispatchEnvironment::checkpoint() const {
  PgConnection c = connectTarget();
  std::string table = c.quoteQualified(stateSchema_, "checkpoint");
  auto exists = c.execParams("SELECT to_regclass($1) IS NOT NULL", {param(table)});
  if (exists.value(0, 0) != "t") return std::nullopt;
  auto res = c.execParams(
      fmt::format("SELECT lsn::text, slot, applied_transactions FROM {} WHERE pipeline = $1",
                  table),
      {param(pipeline_)});
  if (res.rows() == 0) return std::nullopt;
  return CheckpointRow{Lsn::parse(res.value(0, 0)), std::string(res.value(0, 1)),
                       std::stoll(std::string(res.value(0, 2)))};
}

void DispatchEnvironment::flushSourceWal() const {
  PgConnection c = connectSource();
  // A synchronous commit flushes the WAL up to its commit record, and so every asynchronous
  // commit before it — but only if the transaction wrote WAL itself (an xid alone is not
  // enough). A temporary table's catalog rows are WAL-logged and decode to no row change.
  c.exec(
      "BEGIN; SET LOCAL synchronous_commit = on; "
      "CREATE TEMPORARY TABLE e2e_wal_flush (x int) ON COMMIT DROP; COMMIT");
}

Lsn DispatchEnvironment::sourceWalLsn() const {
  PgConnection c = connectSource();
  return Lsn::parse(c.exec("SELECT pg_current_wal_lsn()::text").value(0, 0));
}

std::int64_t DispatchEnvironment::sourceRowsChanged() const {
  PgConnection c = connectSource();
  auto res = c.exec(
      "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
      "WHERE schemaname = 'public'");
  return std::stoll(std::string(res.value(0, 0)));
}

ComparisonReport DispatchEnvironment::compareWithProjection() const {
  PgConnection s = connectSource();
  PgConnection t = connectTarget();
  return compareTargetWithProjection(s, t, idNamespace_);
}

std::string DispatchEnvironment::diagnostics(std::size_t tailLines) const {
  std::string out = fmt::format("work directory: {}\npipeline file: {}\n", workDir_, configPath_);
  for (const auto& c : children_) {
    auto status = c->exitStatus();
    out += fmt::format("=== {} (pid {}, {}) — {}.stderr:\n{}\n", c->commandLine(), c->pid(),
                       status ? fmt::format("exit status {}", *status) : std::string("running"),
                       c->logBase(), tail(c->stderrText(), tailLines));
  }
  return out;
}

void DispatchEnvironment::createSlotBySql() const {
  PgConnection c = connectSource();
  c.execParams("SELECT pg_create_logical_replication_slot($1, 'wal2json')", {param(slot_)});
}

void DispatchEnvironment::dropSlot() const {
  PgConnection c(source().conninfo("postgres"), "e2e cleanup");
  bool gone = pollUntil(
      30s,
      [&] {
        auto res = c.execParams("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
                                {param(slot_)});
        if (res.rows() == 0) return true;
        try {
          if (!res.isNull(0, 0)) {
            // A walsender of a killed pgmorph lingers until it notices; end it.
            std::string pid(res.value(0, 0));
            c.execParams("SELECT pg_terminate_backend($1::int)", {param(pid)});
            return false;
          }
          c.execParams("SELECT pg_drop_replication_slot($1)", {param(slot_)});
          return true;
        } catch (const std::exception&) {
          return false;  // raced with a walsender taking or releasing it: look again
        }
      },
      100ms);
  if (!gone) throw std::runtime_error("slot still there after 30 s");
}

}  // namespace pgmorph::e2e
