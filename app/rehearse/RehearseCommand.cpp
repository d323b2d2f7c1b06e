#include "app/rehearse/RehearseCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "app/ConfigFile.h"
#include "app/StopFlag.h"
#include "app/follow/FollowCommand.h"
#include "app/rehearse/ReportCompare.h"
#include "app/rehearse/ReportWriters.h"
#include "app/rehearse/ScratchTarget.h"
#include "app/snapshot/SnapshotCommand.h"
#include "app/snapshot/SnapshotObserver.h"
#include "app/verify/VerifyCommand.h"
#include "app/verify/VerifyReport.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/ArrayLiteral.h"
#include "cdc/pg/PgConnection.h"
#include "state/ParkedStore.h"

namespace pgmorph {

namespace fs = std::filesystem;

namespace {

using Time = Phase::Time;
Time now() {
  return std::chrono::system_clock::now();
}
double secondsBetween(Time a, Time b) {
  return std::chrono::duration<double>(b - a).count();
}

// Collects what the snapshot tells (SnapshotObserver): called on its orchestrating thread.
class SnapshotTimes : public SnapshotObserver {
 public:
  void slotCreated(Time from, Time to, Lsn point) override {
    slotFrom = from;
    slotTo = to;
    consistentPoint = point;
    haveSlot = true;
  }
  void taskDone(const Task& t) override { tasks.push_back(t); }
  void restored(Time from, Time to) override {
    restoreFrom = from;
    restoreTo = to;
    haveRestore = true;
  }

  Time slotFrom, slotTo, restoreFrom, restoreTo;
  Lsn consistentPoint;
  bool haveSlot = false, haveRestore = false;
  std::vector<Task> tasks;
};

// Per target table: its copy tasks summed, from the first start to the last end; in the order
// the copies started.
std::vector<TableCopy> tableCopies(const std::vector<SnapshotObserver::Task>& tasks) {
  std::map<std::string, TableCopy> byTable;
  std::map<std::string, std::pair<Time, Time>> span;
  for (const auto& t : tasks) {
    if (t.rebuild || t.earlier) continue;
    auto& c = byTable[t.targetTable];
    c.targetTable = t.targetTable;
    if (std::find(c.sourceTables.begin(), c.sourceTables.end(), t.sourceTable) ==
        c.sourceTables.end())
      c.sourceTables.push_back(t.sourceTable);
    if (t.inserts) c.rows += t.rows;  // a partial target's updates fill rows already counted
    auto [it, fresh] = span.try_emplace(t.targetTable, t.started, t.finished);
    if (!fresh) {
      it->second.first = std::min(it->second.first, t.started);
      it->second.second = std::max(it->second.second, t.finished);
    }
  }
  std::vector<TableCopy> out;
  for (auto& [name, c] : byTable) {
    c.seconds = secondsBetween(span[name].first, span[name].second);
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [&](const TableCopy& a, const TableCopy& b) {
    return span[a.targetTable].first < span[b.targetTable].first;
  });
  return out;
}

// Row changes the source's statistics count on the mapped source tables so far (inserts, updates,
// deletes): read twice, the source's write rate on what the pipeline carries, whatever decodes it.
// nullopt when the statistics cannot be read (a role without access to them).
std::optional<double> sourceChangeCount(const PipelineConfig& config) {
  try {
    PgConnection source(config.source.conninfo, "source");
    ArrayLiteral names;
    for (const auto& t : config.tables) names.add(t.sourceSchema + "." + t.sourceTable);
    auto r = source.execParams(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::text FROM pg_stat_user_tables "
        "WHERE schemaname || '.' || relname = ANY($1::text[])",
        {names.view()});
    return std::stod(std::string(r.value(0, 0)));
  } catch (const std::exception& e) {
    spdlog::warn(
        "cannot read the source's table statistics ({}): the write rate is estimated "
        "from the catch-up alone",
        e.what());
    return std::nullopt;
  }
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out)
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("cannot write the report file {}", path.string()));
}

}  // namespace

int RehearseCommand::run(const std::string& configPath, const RehearseOptions& options) {
  PipelineConfig config;
  try {
    config = loadConfigFile(configPath);
    requireSourceConninfo(config, "pgmorph rehearse");
    fs::create_directories(options.reportDir);
    // Scratch rule: a rehearsal measures a snapshot into empty tables, never into what is there.
    ScratchContents contents = ScratchTarget::inspect(config);
    if (!contents.empty()) {
      if (!options.reset) {
        spdlog::error(
            "pgmorph rehearse runs on a scratch target, but pipeline '{}' already holds: {}. Run "
            "it again with --reset to delete exactly that first (give a rehearsal its own "
            "pipeline name and slot)",
            config.pipeline, contents.describe(config));
        return 2;
      }
      ScratchTarget::reset(config, contents);
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  RehearsalReport report;
  report.pipeline = config.pipeline;
  report.started = now();

  auto countedFrom = sourceChangeCount(config);
  Time countFrom = now();

  // 1. The snapshot.
  SnapshotTimes times;
  SnapshotOptions snapshotOptions;
  snapshotOptions.jobs = options.jobs;
  snapshotOptions.observer = &times;
  if (int status = SnapshotCommand(config).snapshot(snapshotOptions); status != 0) return 2;
  Time snapshotDone = now();
  if (!times.haveSlot || times.tasks.empty()) {
    spdlog::error("the snapshot did not run to its end (stopped?): no rehearsal report");
    return 2;
  }

  // 2. Where the source is now: the catch-up's goal.
  Lsn untilLsn;
  try {
    PgConnection source(config.source.conninfo, "source");
    // The insert position, as follow --until-caught-up: a commit still in the WAL buffers counts.
    untilLsn = Lsn::parse(source.exec("SELECT pg_current_wal_insert_lsn()::text").value(0, 0));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  // 3. The catch-up, sampled every second.
  FollowOptions follow;
  follow.untilLsn = untilLsn;
  follow.checkFirst = false;  // the snapshot's preflight ran
  Time catchUpFrom = now();
  // The apply rate counts from the stream's start: connecting is not applying.
  std::optional<Time> streamingFrom;
  follow.onStreaming = [&] {
    if (!streamingFrom) streamingFrom = now();
  };
  Time lastSample = catchUpFrom;
  std::uint64_t lastChanges = 0;
  follow.onSample = [&](const ApplyStats& stats, Lsn current) {
    Time t = now();
    double dt = secondsBetween(lastSample, t);
    CatchUpSample s;
    s.t = secondsBetween(catchUpFrom, t);
    s.lagBytes = current > stats.checkpoint ? current.value() - stats.checkpoint.value() : 0;
    s.changesPerSecond = dt > 0 ? static_cast<double>(stats.changesApplied - lastChanges) / dt : 0;
    report.samples.push_back(s);
    lastSample = t;
    lastChanges = stats.changesApplied;
  };
  // The chart's first point: all of the catch-up is ahead (from the consistent point to the goal).
  report.samples.push_back(
      {0, untilLsn > times.consistentPoint ? untilLsn.value() - times.consistentPoint.value() : 0,
       0});
  FollowCommand follower(config);
  if (int status = follower.follow(follow, false); status != 0) return 2;
  Time catchUpTo = now();
  // And its last: nothing left, at the rate since the last sample.
  double tail = secondsBetween(lastSample, catchUpTo);
  report.samples.push_back(
      {secondsBetween(catchUpFrom, catchUpTo), 0,
       tail > 0 ? static_cast<double>(follower.stats().changesApplied - lastChanges) / tail : 0});
  if (follower.stats().checkpoint < untilLsn) {
    spdlog::error("the catch-up stopped before {} (stopped?): no rehearsal report", untilLsn.str());
    return 2;
  }
  report.untilLsn = untilLsn.str();
  report.changes = follower.stats().changesApplied;
  report.catchUpSeconds = secondsBetween(catchUpFrom, catchUpTo);

  // 4. Verify, and what is parked.
  Time verifyFrom = now();
  try {
    VerifyOptions verifyOptions;
    verifyOptions.jobs = static_cast<std::size_t>(std::max(1, options.jobs));
    StopFlag stop;
    report.verify = VerifyCommand::verify(config, verifyOptions, stop);
    report.verify.file = configPath;
    report.verifyJson = verifyJson(report.verify);
    PgConnection target(config.target.conninfo, "target");
    ParkedStore parked(config.target.stateSchema, config.pipeline);
    if (parked.exists(target))
      for (const auto& c : parked.countByTable(target))
        report.parked.push_back({c.targetTable, std::string(toString(c.kind)), c.rows});
  } catch (const std::exception& e) {
    spdlog::error("verify: {}", e.what());
    return 2;
  }
  Time verifyTo = now();

  // The phases.
  report.tables = tableCopies(times.tasks);
  std::uint64_t copied = 0;
  double rebuildSeconds = 0;
  for (const auto& t : report.tables) copied += t.rows;
  for (const auto& t : times.tasks)
    if (t.rebuild) rebuildSeconds += secondsBetween(t.started, t.finished);
  Time copyTo = times.haveRestore ? times.restoreFrom : snapshotDone;
  report.phases.push_back({"slot creation",
                           times.slotFrom,
                           times.slotTo,
                           {{"consistent_point", times.consistentPoint.str()}}});
  double copySeconds = secondsBetween(times.slotTo, copyTo);
  report.phases.push_back({"copy",
                           times.slotTo,
                           copyTo,
                           {{"tables", static_cast<double>(report.tables.size())},
                            {"rows", static_cast<double>(copied)},
                            {"rows_per_second", copySeconds > 0 ? copied / copySeconds : 0},
                            {"index_builds_during_copy_seconds", rebuildSeconds}}});
  report.phases.push_back({"index rebuild + FK validation",
                           times.haveRestore ? times.restoreFrom : snapshotDone,
                           times.haveRestore ? times.restoreTo : snapshotDone,
                           {}});
  report.phases.push_back({"catch-up",
                           catchUpFrom,
                           catchUpTo,
                           {{"until_lsn", untilLsn.str()},
                            {"changes", static_cast<double>(report.changes)},
                            {"changes_per_second", report.changesPerSecond()}}});
  report.phases.push_back({"verify",
                           verifyFrom,
                           verifyTo,
                           {{"result", report.verify.equal() ? "equal" : "different"},
                            {"source_lsn", report.verify.sourceLsn.str()},
                            {"tables", static_cast<double>(report.verify.tables.size())}}});

  // The window. The source's write rate: its statistics' count of row changes on the mapped
  // tables over the whole rehearsal (seconds, not the fraction of one the catch-up's changes were
  // written in); without them, the catch-up's changes over the time they were written in (slot
  // created -> goal read). The apply rate: the catch-up's changes over the time it streamed.
  auto& w = report.window;
  auto countedTo = sourceChangeCount(config);
  double countedOver = secondsBetween(countFrom, now());
  double writtenOver = secondsBetween(times.slotTo, snapshotDone);
  if (countedFrom && countedTo && countedOver > 0)
    w.writeRate = std::max(0.0, *countedTo - *countedFrom) / countedOver;
  else {
    w.writeRate = writtenOver > 0 ? report.changes / writtenOver : 0;
    w.writeRateFrom = "catch-up";
  }
  double applyingFor = secondsBetween(streamingFrom.value_or(catchUpFrom), catchUpTo);
  w.applyRate = applyingFor > 0 ? report.changes / applyingFor : 0;
  w.catchUpSeconds = report.catchUpSeconds;
  w.verifySeconds = secondsBetween(verifyFrom, verifyTo);
  estimateWindow(w);
  report.finished = now();

  // 5. The files: the previous report kept, compared, then replaced.
  try {
    fs::path dir(options.reportDir);
    fs::path json = dir / "report.json", kept = dir / "report.previous.json";
    if (fs::exists(json)) {
      std::string previous = readFile(json);
      fs::rename(json, kept);
      report.comparedWith = compareWithPrevious(previous, kept.string(), report);
      if (!report.comparedWith)
        spdlog::warn("{} is not a rehearsal report: kept as {}, not compared", json.string(),
                     kept.string());
    }
    writeFile(json, reportJson(report));
    writeFile(dir / "report.md", reportMarkdown(report));
    writeFile(dir / "report.html", reportHtml(report));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  for (const auto& p : report.phases)
    spdlog::info("rehearsal: {:<30} {:>10}", p.name, humanSeconds(p.seconds()));
  spdlog::info("rehearsal of pipeline '{}': verify {}; estimated cutover window {}; report in {}",
               config.pipeline, report.verify.equal() ? "equal" : "found differences",
               w.seconds ? humanSeconds(*w.seconds) : "unknown (apply slower than writes)",
               options.reportDir);
  return report.verify.equal() ? 0 : 1;
}

}  // namespace pgmorph
