#include "app/cutover/SourceQuiet.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "cdc/pg/ArrayLiteral.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSampleEvery = std::chrono::milliseconds(200);

double secondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Sample {
  std::vector<OpenWriter> writers;
  std::vector<std::string> prepared;
  int uninspectable = 0;
  std::map<std::string, std::int64_t> counters;  // per mapped table
};

class SourceProbe {
 public:
  SourceProbe(const PipelineConfig& config) : source_(config.source.conninfo, "source") {
    for (const auto& t : config.tables) {
      std::string name = t.sourceSchema + "." + t.sourceTable;
      if (std::find(names_.begin(), names_.end(), name) != names_.end()) continue;
      names_.push_back(name);
      regclasses_.add(source_.quoteQualified(t.sourceSchema, t.sourceTable));
      display_.add(name);
    }
  }

  PgConnection& connection() { return source_; }

  Sample sample() {
    Sample s;
    // Each statement is its own transaction, so each sees fresh statistics.
    auto counters = source_.execParams(
        "SELECT t.name, coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::text"
        " FROM unnest($1::text[], $2::text[]) AS t(rel, name)"
        " LEFT JOIN pg_stat_user_tables s ON s.relid = to_regclass(t.rel)",
        {regclasses_.view(), display_.view()});
    for (int r = 0; r < counters.rows(); ++r)
      s.counters[std::string(counters.value(r, 0))] = std::stoll(std::string(counters.value(r, 1)));
    // Our own session and the walsenders (follow's, verify's) are not writers.
    auto writers = source_.exec(
        "SELECT pid, coalesce(usename, ''), coalesce(application_name, ''),"
        " coalesce(host(client_addr), 'local'), coalesce(state, ''),"
        " coalesce(to_char(xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
        " left(coalesce(query, ''), 200), backend_xid IS NOT NULL, query = '<insufficient "
        "privilege>'"
        " FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend' ORDER BY xact_start NULLS LAST, pid");
    for (int r = 0; r < writers.rows(); ++r) {
      if (writers.value(r, 8) == "t") {
        ++s.uninspectable;
        continue;
      }
      if (writers.value(r, 7) != "t") continue;
      OpenWriter w;
      w.pid = std::stoi(std::string(writers.value(r, 0)));
      w.user = writers.value(r, 1);
      w.application = writers.value(r, 2);
      w.clientAddr = writers.value(r, 3);
      w.state = writers.value(r, 4);
      w.xactStart = writers.value(r, 5);
      w.query = writers.value(r, 6);
      s.writers.push_back(std::move(w));
    }
    auto prepared = source_.exec(
        "SELECT gid || ' (' || owner || ', prepared ' || prepared::text || ')'"
        " FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared");
    for (int r = 0; r < prepared.rows(); ++r) s.prepared.emplace_back(prepared.value(r, 0));
    return s;
  }

 private:
  PgConnection source_;
  std::vector<std::string> names_;
  ArrayLiteral regclasses_, display_;
};

}  // namespace

std::string OpenWriter::describe() const {
  return fmt::format(
      "pid {} (user {}, application_name '{}', client {}, state {}, transaction since {}): {}", pid,
      user, application, clientAddr, state, xactStart, query);
}

std::vector<std::string> QuietResult::details(const CutoverOptions& options) const {
  std::vector<std::string> out;
  if (quiet)
    out.push_back(fmt::format(
        "quiet: no write to a mapped table and no open write transaction for {} s (waited {:.1f} "
        "s)",
        options.quietSeconds, waitedSeconds));
  else
    out.push_back(fmt::format(
        "not quiet within --max-wait {} s: the source needs {} s without a write to a mapped "
        "table and without an open write transaction",
        options.maxWaitSeconds, options.quietSeconds));
  for (const auto& w : writers) out.push_back("holds a write transaction open: " + w.describe());
  if (writers.empty())
    for (const auto& w : seen)
      out.push_back("held a write transaction open while cutover waited: " + w.describe());
  for (const auto& p : prepared)
    out.push_back("prepared transaction (COMMIT PREPARED or ROLLBACK PREPARED it): " + p);
  if (uninspectable)
    out.push_back(fmt::format(
        "{} session{} of other roles could not be inspected (their transactions are hidden): "
        "GRANT pg_read_all_stats to the source role",
        uninspectable, uninspectable == 1 ? "" : "s"));
  for (const auto& t : written)
    out.push_back(
        fmt::format("{}: {} row{} written while cutover waited, the last {:.1f} s before "
                    "the end",
                    t.table, t.rows, t.rows == 1 ? "" : "s", t.lastSecondsAgo));
  for (const auto& w : terminated)
    out.push_back("terminated (--terminate-writers): " + w.describe());
  for (const auto& c : sourceChanges) out.push_back("changed on the source: " + c);
  return out;
}

SourceQuiet::SourceQuiet(const PipelineConfig& config, const CutoverOptions& options,
                         const StopFlag& stop)
    : config_(config), options_(options), stop_(stop) {}

QuietResult SourceQuiet::await() {
  QuietResult result;
  SourceProbe probe(config_);
  PgConnection& source = probe.connection();
  if (options_.setSourceReadOnly) {
    std::string db(source.exec("SELECT current_database()").value(0, 0));
    std::string quoted = source.quoteIdent(db);
    source.exec(fmt::format("ALTER DATABASE {} SET default_transaction_read_only = on", quoted));
    result.sourceChanges.push_back(fmt::format(
        "ALTER DATABASE {} SET default_transaction_read_only = on (sessions opened from now on "
        "are read-only; undo: ALTER DATABASE {} RESET default_transaction_read_only)",
        quoted, quoted));
    spdlog::info("cutover: source database {} set read-only for new sessions", quoted);
  }

  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                              std::max(options_.maxWaitSeconds, options_.quietSeconds)));
  Sample first = probe.sample();
  Sample previous = first;
  auto lastActivity = start;
  std::map<std::string, Clock::time_point> lastWrite;
  std::map<int, OpenWriter> seen;
  Sample current = first;
  for (bool firstRound = true;; firstRound = false) {
    if (!firstRound) current = probe.sample();
    auto now = Clock::now();
    if (options_.terminateWriters && !current.writers.empty()) {
      for (const auto& w : current.writers) {
        source.execParams("SELECT pg_terminate_backend($1::int)", {std::to_string(w.pid)});
        spdlog::warn("cutover: terminated the source session {}", w.describe());
        result.terminated.push_back(w);
        result.sourceChanges.push_back(
            fmt::format("terminated pid {} (user {}, application_name '{}'), which held a write "
                        "transaction open; it was rolled back",
                        w.pid, w.user, w.application));
      }
    }
    for (const auto& w : current.writers) seen.emplace(w.pid, w);
    if (!current.writers.empty() || !current.prepared.empty() || current.uninspectable)
      lastActivity = now;
    for (const auto& [table, count] : current.counters)
      if (count != previous.counters[table]) {
        lastActivity = now;
        lastWrite[table] = now;
      }
    previous = current;
    bool quiet = secondsBetween(lastActivity, now) >= options_.quietSeconds;
    if (quiet || now >= deadline || stop_.requested()) {
      result.quiet = quiet;
      result.waitedSeconds = secondsBetween(start, now);
      // A terminated writer is gone; the ones still listed are the ones left.
      if (!options_.terminateWriters) result.writers = current.writers;
      result.prepared = current.prepared;
      result.uninspectable = current.uninspectable;
      for (auto& [pid, w] : seen) result.seen.push_back(w);
      result.counters = current.counters;
      result.endedAt = now;
      for (const auto& [table, when] : lastWrite)
        result.written.push_back(
            {table, current.counters[table] - first.counters[table], secondsBetween(when, now)});
      return result;
    }
    std::this_thread::sleep_for(kSampleEvery);
  }
}

std::vector<std::string> SourceQuiet::brokenSince(const QuietResult& quiet) {
  std::this_thread::sleep_until(quiet.endedAt + kStatsDelay);
  SourceProbe probe(config_);
  Sample now = probe.sample();
  std::vector<std::string> out;
  for (const auto& [table, count] : now.counters)
    if (auto was = quiet.counters.find(table); was != quiet.counters.end() && was->second != count)
      out.push_back(fmt::format("{}: {} row{} written after the source was found quiet", table,
                                count - was->second, count - was->second == 1 ? "" : "s"));
  for (const auto& w : now.writers)
    out.push_back("holds a write transaction open after the source was found quiet: " +
                  w.describe());
  return out;
}

}  // namespace pgmorph
