#include "cdc/pipeline/SnapshotCopier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;

std::pair<std::string, std::string> splitName(const std::string& qualified) {
  auto dot = qualified.find('.');
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

// Rows of a source table by the planner's estimate: pg_class.reltuples, or for a table
// never analyzed (-1) its size at ~100 bytes a row. Only used for progress and splitting.
double estimateRows(PgConnection& source, const std::string& table) {
  auto [schema, name] = splitName(table);
  auto res = source.execParams(
      "SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples"
      " ELSE pg_relation_size(c.oid) / 100.0 END FROM pg_class c"
      " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
      {schema, name});
  return res.rows() ? std::stod(std::string(res.value(0, 0))) : 0;
}

bool isIntegerType(const std::string& type) {
  return type == "integer" || type == "bigint" || type == "smallint";
}

// The work queue between the orchestrator's thread and the workers, and what comes back.
struct WorkQueue {
  std::mutex mutex;
  std::condition_variable wake;  // workers: a unit is queued, or it is time to stop
  std::condition_variable back;  // orchestrator: a unit finished, or a worker failed
  std::deque<const SnapshotUnit*> units;
  std::vector<std::size_t> finishedGroups;
  std::vector<std::size_t> unitsLeft;  // per group
  std::exception_ptr firstError;
  bool closing = false;
  int workersAlive = 0;
};

}  // namespace

SnapshotCopier::SnapshotCopier(const PipelineConfig& config, const SnapshotOptions& options,
                               const SnapshotPlan& plan, const TargetCatalog& catalog,
                               const SnapshotStore& store, StopFlag& stop,
                               std::function<void()> poll)
    : config_(config),
      options_(options),
      plan_(plan),
      catalog_(catalog),
      store_(store),
      stop_(stop),
      poll_(std::move(poll)) {}

SnapshotEnd SnapshotCopier::run(PgConnection& control, const SnapshotRecord& rec,
                                SnapshotReader& probe) {
  auto wallStart = Clock::now();
  const auto& tasks = plan_.tasks();
  const auto& groups = plan_.groups();
  std::atomic<bool> cancel{false};
  shared_.config = &config_;
  shared_.plan = &plan_;
  shared_.catalog = &catalog_;
  shared_.store = &store_;
  shared_.snapshotName = rec.snapshotName;
  shared_.cancel = &cancel;
  std::map<std::string, std::vector<SourceColumn>> columns;
  std::map<std::string, double> estimates;
  for (const auto& t : tasks) {
    auto [schema, name] = splitName(t.sourceTable);
    if (!columns.count(t.sourceTable)) {
      columns[t.sourceTable] =
          SnapshotReader::describe(probe.connection(), schema, name, t.sourceColumns);
      estimates[t.sourceTable] = estimateRows(probe.connection(), t.sourceTable);
    }
    shared_.reads.push_back(SnapshotRead{schema, name, columns[t.sourceTable], {}, {}, {}});
    estimates_.push_back(estimates[t.sourceTable]);
  }
  for (auto& r : store_.tasks(control)) states_[r.task] = r;

  SnapshotProgress progress(SnapshotProgress::stderrIsTerminal(), options_.progressInterval);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto& p = progress.add(tasks[i].id, estimates_[i], !tasks[i].partial);
    const auto& state = states_[tasks[i].id];
    if (state.state == SnapshotTaskState::Done) {
      p.state = 3;
      p.rowsWritten = static_cast<std::uint64_t>(state.rows);
    }
    shared_.progress.push_back(&p);
  }

  // Which groups still have work, and how many unfinished groups each one waits for.
  std::vector<bool> groupDone(groups.size());
  std::vector<std::size_t> waitingFor(groups.size(), 0);
  std::size_t groupsLeft = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    groupDone[g] = std::all_of(groups[g].tasks.begin(), groups[g].tasks.end(), [&](auto t) {
      return states_[tasks[t].id].state == SnapshotTaskState::Done;
    });
    if (!groupDone[g]) ++groupsLeft;
  }
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t p : groups[g].after)
      if (!groupDone[p]) ++waitingFor[g];
  spdlog::info(
      "snapshot of pipeline '{}': {} tasks in {} groups ({} to copy) on {} workers, "
      "reading under snapshot {} (slot '{}', consistent point {})",
      config_.pipeline, tasks.size(), groups.size(), groupsLeft, options_.jobs, rec.snapshotName,
      rec.slot, rec.consistentPoint.str());

  WorkQueue q;
  q.unitsLeft.assign(groups.size(), 0);
  std::deque<SnapshotUnit> unitStore;  // stable addresses for the queue
  std::vector<bool> started(groups.size(), false);
  auto startReadyGroups = [&] {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groupDone[g] || started[g] || waitingFor[g] > 0) continue;
      started[g] = true;
      auto units = unitsOf(groups[g], control, probe);
      std::lock_guard lock(q.mutex);
      q.unitsLeft[g] = units.size();
      if (units.empty()) q.finishedGroups.push_back(g);  // nothing left to copy in it
      for (auto& u : units) {
        unitStore.push_back(std::move(u));
        q.units.push_back(&unitStore.back());
      }
      q.wake.notify_all();
    }
  };

  auto workerMain = [&] {
    std::unique_ptr<SnapshotWorker> worker;
    try {
      worker = std::make_unique<SnapshotWorker>(shared_);
      for (;;) {
        const SnapshotUnit* unit = nullptr;
        {
          std::unique_lock lock(q.mutex);
          q.wake.wait(lock, [&] { return q.closing || !q.units.empty(); });
          if (q.closing) break;
          unit = q.units.front();
          q.units.pop_front();
        }
        worker->copy(*unit);
        std::lock_guard lock(q.mutex);
        if (--q.unitsLeft[unit->group] == 0) q.finishedGroups.push_back(unit->group);
        q.back.notify_all();
      }
    } catch (const SnapshotCancelled&) {
    } catch (...) {
      std::lock_guard lock(q.mutex);
      if (!q.firstError) q.firstError = std::current_exception();
      cancel = true;
    }
    worker.reset();  // closes its sessions before the orchestrator goes on
    std::lock_guard lock(q.mutex);
    --q.workersAlive;
    q.back.notify_all();
  };

  int jobs = std::max(1, options_.jobs);
  std::vector<std::thread> threads;
  q.workersAlive = jobs;
  for (int i = 0; i < jobs && groupsLeft > 0; ++i) threads.emplace_back(workerMain);
  if (threads.size() < static_cast<std::size_t>(jobs)) q.workersAlive = threads.size();

  std::exception_ptr error;
  try {
    startReadyGroups();
    while (groupsLeft > 0) {
      std::vector<std::size_t> finished;
      {
        std::unique_lock lock(q.mutex);
        q.back.wait_for(lock, std::chrono::milliseconds(200));
        finished.swap(q.finishedGroups);
        if (q.firstError || q.workersAlive == 0) break;
      }
      for (std::size_t g : finished) {
        groupDone[g] = true;
        --groupsLeft;
        for (std::size_t d = 0; d < groups.size(); ++d)
          if (std::find(groups[d].after.begin(), groups[d].after.end(), g) != groups[d].after.end())
            --waitingFor[d];
      }
      if (poll_) poll_();
      if (stop_.requested()) break;
      startReadyGroups();
      progress.tick();
    }
  } catch (...) {
    error = std::current_exception();  // the orchestrator's own session failed
  }
  {
    std::lock_guard lock(q.mutex);
    q.closing = true;
    if (groupsLeft > 0) cancel = true;
    q.wake.notify_all();
  }
  for (auto& t : threads) t.join();
  progress.tick();
  shared_.cancel = nullptr;
  if (q.firstError) std::rethrow_exception(q.firstError);
  if (error) std::rethrow_exception(error);
  if (groupsLeft > 0) {
    spdlog::info("snapshot stopped; run it again to resume");
    return SnapshotEnd::Interrupted;
  }
  progress.summary(std::chrono::duration<double>(Clock::now() - wallStart).count());
  return SnapshotEnd::Done;
}

std::vector<SnapshotUnit> SnapshotCopier::unitsOf(const SnapshotGroup& group, PgConnection& control,
                                                  SnapshotReader& probe) {
  const auto& tasks = plan_.tasks();
  std::size_t g = tasks[group.tasks.front()].group;
  std::vector<std::size_t> pending;
  for (std::size_t t : group.tasks)
    if (states_[tasks[t].id].state != SnapshotTaskState::Done) pending.push_back(t);
  if (group.oneTransaction || tasks[group.tasks.front()].partial) {
    // A cycle commits as a whole (all of it again); partial tasks of one table go one after
    // the other.
    std::vector<std::size_t> all = group.oneTransaction ? group.tasks : pending;
    for (std::size_t t : all) store_.markCopying(control, tasks[t].id, 1);
    return {SnapshotUnit{all, group.oneTransaction, g, {}, {}, {}}};
  }
  std::vector<SnapshotUnit> units;
  for (std::size_t t : pending) {
    auto parts = ranges(t, probe);
    store_.markCopying(control, tasks[t].id, static_cast<int>(parts.size()));
    for (auto& u : parts) units.push_back(std::move(u));
  }
  return units;
}

std::vector<SnapshotUnit> SnapshotCopier::ranges(std::size_t task, SnapshotReader& probe) {
  const SnapshotTask& t = plan_.tasks()[task];
  SnapshotUnit whole{{task}, false, t.group, {}, {}, {}};
  const TableMapping& table = config_.tables[t.tableIndex];
  double estimate = estimates_[task];
  if (t.inCycle || t.selfReferencing || table.keyColumns.size() != 1 ||
      estimate <= static_cast<double>(options_.splitRows))
    return {whole};
  const std::string& key = table.keyColumns[0];
  const auto& cols = shared_.reads[task].columns;
  auto col = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == key; });
  if (col == cols.end() || !isIntegerType(col->type)) return {whole};

  auto [schema, name] = splitName(t.sourceTable);
  PgConnection& conn = probe.connection();
  auto res = conn.exec(fmt::format("SELECT min({0})::text, max({0})::text FROM {1}",
                                   conn.quoteIdent(key), conn.quoteQualified(schema, name)));
  if (res.isNull(0, 0)) return {whole};
  std::int64_t lo = 0, hi = 0;
  auto lov = res.value(0, 0), hiv = res.value(0, 1);
  std::from_chars(lov.data(), lov.data() + lov.size(), lo);
  std::from_chars(hiv.data(), hiv.data() + hiv.size(), hi);
  auto n = static_cast<std::int64_t>(
      std::min(64.0, std::ceil(estimate / static_cast<double>(options_.splitRows))));
  std::int64_t width = (hi - lo) / n + 1;
  std::vector<SnapshotUnit> out;
  for (std::int64_t i = 0; i < n; ++i) {
    SnapshotUnit u{{task}, false, t.group, key, {}, {}};
    // Open ends on both sides: no row is outside the ranges, whatever min/max said.
    if (i > 0) u.from = lo + i * width;
    if (i < n - 1) u.to = lo + (i + 1) * width;
    out.push_back(std::move(u));
  }
  spdlog::info("{}: ~{:.0f} rows, copied in {} key ranges of {}", t.id, estimate, out.size(), key);
  return out;
}

}  // namespace pgmorph
