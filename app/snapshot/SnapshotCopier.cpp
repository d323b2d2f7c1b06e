#include "app/snapshot/SnapshotCopier.h"

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
#include <set>
#include <thread>

#include "app/snapshot/SnapshotObserver.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;

// Rows of a source table as the planner estimates them: pg_class.reltuples scaled by the
// table's current size over relpages (stale statistics of a table that grew since its last
// ANALYZE would otherwise say ~90000 for 900000), or for a table never analyzed (-1) or
// analyzed empty its size at ~100 bytes a row. Cheap (no scan); only used for progress and
// splitting, and the progress never trusts it past the rows actually read.
double estimateRows(PgConnection& source, const std::string& table) {
  auto [schema, name] = splitQualifiedName(table);
  auto res = source.execParams(
      "SELECT CASE WHEN c.reltuples >= 0 AND c.relpages > 0"
      " THEN c.reltuples / c.relpages * greatest(pg_relation_size(c.oid)"
      " / current_setting('block_size')::float8, 1)"
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
  std::vector<std::string> rebuiltTables;
  std::vector<std::size_t> unitsLeft;  // per group
  std::exception_ptr firstError;
  bool closing = false;
  int workersAlive = 0;
};

// A progress task as the observer sees it: wall-clock times from the task's steady-clock ones.
SnapshotObserver::Task observed(const SnapshotProgress::Task& p, const std::string& id,
                                const std::string& source, const std::string& target,
                                bool rebuild) {
  auto wallNow = std::chrono::system_clock::now();
  auto steadyNow = SnapshotProgress::Clock::now().time_since_epoch();
  auto wall = [&](std::int64_t ns) {
    return wallNow - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                         steadyNow - std::chrono::nanoseconds(ns));
  };
  SnapshotObserver::Task t{
      id, source, target, rebuild, p.state.load() == 3, p.inserts, p.rowsWritten.load(), {}, {}};
  if (p.startedNs.load() && p.finishedNs.load()) {
    t.started = wall(p.startedNs.load());
    t.finished = wall(p.finishedNs.load());
  }
  return t;
}

}  // namespace

SnapshotCopier::SnapshotCopier(const PipelineConfig& config, const SnapshotOptions& options,
                               const SnapshotPlan& plan, const TargetCatalog& catalog,
                               const SnapshotStore& store, const SuspendedDdlStore& ddl,
                               StopFlag& stop, std::function<void()> poll)
    : config_(config),
      options_(options),
      plan_(plan),
      catalog_(catalog),
      store_(store),
      ddl_(ddl),
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
  shared_.ddl = &ddl_;
  std::set<std::string> rebuildLeft;  // tables whose suspended indexes are not built yet
  for (const auto& d : ddl_.load(control)) {
    if (d.restored) continue;
    if (d.kind == DdlKind::ForeignKey)
      shared_.suspendedKeys.insert(d.qualifiedTable() + ':' + d.name);
    else
      rebuildLeft.insert(d.qualifiedTable());
  }
  shared_.snapshotName = rec.snapshotName;
  shared_.cancel = &cancel;
  std::map<std::string, std::vector<SourceColumn>> columns;
  std::map<std::string, double> estimates;
  for (const auto& t : tasks) {
    auto [schema, name] = splitQualifiedName(t.sourceTable);
    if (!columns.count(t.sourceTable)) {
      columns[t.sourceTable] =
          SnapshotReader::describe(probe.connection(), schema, name, t.sourceColumns);
      estimates[t.sourceTable] = estimateRows(probe.connection(), t.sourceTable);
    }
    shared_.reads.push_back(SnapshotRead{schema, name, columns[t.sourceTable], {}, {}, {}});
    estimates_.push_back(estimates[t.sourceTable]);
  }
  for (auto& r : store_.tasks(control)) states_[r.task] = r;

  SnapshotProgress progress(SnapshotProgress::stderrIsTerminal(), options_.progressInterval,
                            options_.metrics);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto& p = progress.add(tasks[i].id, estimates_[i], !tasks[i].partial);
    p.sourceTable = config_.tables[tasks[i].tableIndex].idName;
    const auto& state = states_[tasks[i].id];
    if (state.state == SnapshotTaskState::Done) {
      p.state = 3;
      p.rowsWritten = static_cast<std::uint64_t>(state.rows);
    }
    shared_.progress.push_back(&p);
  }

  // Which groups still have work. A group is released (its dependents may start) once it is
  // done and the suspended indexes of every table it loads are built.
  std::vector<bool> groupDone(groups.size()), released(groups.size());
  std::vector<std::set<std::string>> loads(groups.size());  // upsert target tables per group
  std::vector<std::string> partialOn(groups.size());        // a partial group's target table
  std::size_t groupsLeft = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    groupDone[g] = std::all_of(groups[g].tasks.begin(), groups[g].tasks.end(), [&](auto t) {
      return states_[tasks[t].id].state == SnapshotTaskState::Done;
    });
    for (std::size_t t : groups[g].tasks) {
      if (!tasks[t].partial) loads[g].insert(tasks[t].targetTable);
      if (tasks[t].partial && !groups[g].oneTransaction) partialOn[g] = tasks[t].targetTable;
    }
  }
  // A table whose only dependents are its own partial targets is rebuilt after them too:
  // their UPDATE ... FROM staging joins by hash as well without the key, and rows updated in a
  // table without indexes cost no index insertions (measured: 1.7 s of the target's time at
  // scale 40 for the jaws with their keys in place). Their own loaders are all they wait for.
  std::set<std::string> pastPartials;
  for (const auto& table : rebuildLeft) {
    bool hasPartials = false, onlyPartials = true;
    for (std::size_t d = 0; d < groups.size(); ++d) {
      bool waitsForTable = std::any_of(groups[d].after.begin(), groups[d].after.end(),
                                       [&](std::size_t p) { return loads[p].count(table) > 0; });
      if (!waitsForTable) continue;
      if (partialOn[d] == table)
        hasPartials = true;
      else
        onlyPartials = false;
    }
    if (hasPartials && onlyPartials) pastPartials.insert(table);
  }
  auto writes = [&](std::size_t g, const std::string& table) {
    return loads[g].count(table) > 0 || (partialOn[g] == table && pastPartials.count(table) > 0);
  };
  std::map<std::string, std::size_t> loadersLeft;  // per table to rebuild: groups writing it
  for (const auto& table : rebuildLeft) {
    loadersLeft[table] = 0;
    for (std::size_t g = 0; g < groups.size(); ++g)
      if (!groupDone[g] && writes(g, table)) ++loadersLeft[table];
  }
  auto rebuilt = [&](std::size_t g) {
    return std::none_of(loads[g].begin(), loads[g].end(),
                        [&](const std::string& t) { return rebuildLeft.count(t) > 0; });
  };
  for (std::size_t g = 0; g < groups.size(); ++g) {
    released[g] = groupDone[g] && rebuilt(g);
    if (!released[g]) ++groupsLeft;
  }
  // Ready: every group it comes after is released — or, for the partial targets of a table
  // rebuilt after them, done.
  auto ready = [&](std::size_t g) {
    return std::all_of(groups[g].after.begin(), groups[g].after.end(), [&](std::size_t p) {
      return released[p] || (groupDone[p] && !partialOn[g].empty() &&
                             pastPartials.count(partialOn[g]) && loads[p].count(partialOn[g]));
    });
  };
  std::map<std::string, SnapshotProgress::Task*> rebuildProgress;
  for (const auto& table : rebuildLeft)
    rebuildProgress[table] = &progress.add("indexes of " + table, 0, false, true);
  spdlog::info(
      "snapshot of pipeline '{}': {} tasks in {} groups ({} to copy) on {} workers, "
      "reading under snapshot {} (slot '{}', consistent point {}){}",
      config_.pipeline, tasks.size(), groups.size(), groupsLeft, options_.jobs, rec.snapshotName,
      rec.slot, rec.consistentPoint.str(),
      rebuildLeft.empty()
          ? std::string()
          : fmt::format("; indexes of {} tables built after their copy", rebuildLeft.size()));

  WorkQueue q;
  q.unitsLeft.assign(groups.size(), 0);
  std::deque<SnapshotUnit> unitStore;  // stable addresses for the queue
  std::vector<bool> started(groups.size(), false);
  std::set<std::string> rebuildQueued;
  auto queueRebuilds = [&] {
    for (const auto& table : rebuildLeft) {
      if (loadersLeft[table] > 0 || rebuildQueued.count(table)) continue;
      rebuildQueued.insert(table);
      SnapshotUnit u{{}, false, 0, {}, {}, {}, table, rebuildProgress[table]};
      unitStore.push_back(std::move(u));
      std::lock_guard lock(q.mutex);
      q.units.push_front(&unitStore.back());  // dependents wait for it: ahead of the copies
      q.wake.notify_all();
    }
  };
  auto release = [&](std::size_t g) {
    if (released[g] || !groupDone[g] || !rebuilt(g)) return;
    released[g] = true;
    --groupsLeft;
  };
  auto startReadyGroups = [&] {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groupDone[g] || started[g] || !ready(g)) continue;
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
        if (!unit->rebuildTable.empty())
          q.rebuiltTables.push_back(unit->rebuildTable);
        else if (--q.unitsLeft[unit->group] == 0)
          q.finishedGroups.push_back(unit->group);
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
    queueRebuilds();
    startReadyGroups();
    while (groupsLeft > 0) {
      std::vector<std::size_t> finished;
      std::vector<std::string> rebuiltNow;
      {
        std::unique_lock lock(q.mutex);
        q.back.wait_for(lock, std::chrono::milliseconds(200));
        finished.swap(q.finishedGroups);
        rebuiltNow.swap(q.rebuiltTables);
        if (q.firstError || q.workersAlive == 0) break;
      }
      for (std::size_t g : finished) {
        groupDone[g] = true;
        for (const auto& table : rebuildLeft)
          if (writes(g, table)) --loadersLeft[table];
      }
      for (const auto& table : rebuiltNow) rebuildLeft.erase(table);
      queueRebuilds();
      for (std::size_t g = 0; g < groups.size(); ++g) release(g);
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
    // SnapshotCommand says what a rerun does (SnapshotLeftovers): it starts over.
    spdlog::info("snapshot copy stopped with {} of {} groups still to copy", groupsLeft,
                 groups.size());
    return SnapshotEnd::Interrupted;
  }
  progress.summary(std::chrono::duration<double>(Clock::now() - wallStart).count());
  if (options_.observer) {
    for (std::size_t i = 0; i < tasks.size(); ++i)
      options_.observer->taskDone(observed(*shared_.progress[i], tasks[i].id, tasks[i].sourceTable,
                                           tasks[i].targetTable, false));
    for (const auto& [table, p] : rebuildProgress)
      options_.observer->taskDone(observed(*p, p->label, "", table, true));
  }
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
    return {SnapshotUnit{all, group.oneTransaction, g, {}, {}, {}, {}, nullptr}};
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
  SnapshotUnit whole{{task}, false, t.group, {}, {}, {}, {}, nullptr};
  const TableMapping& table = config_.tables[t.tableIndex];
  double estimate = estimates_[task];
  if (t.inCycle || t.selfReferencing || table.keyColumns.size() != 1 ||
      estimate <= static_cast<double>(options_.splitRows))
    return {whole};
  const std::string& key = table.keyColumns[0];
  const auto& cols = shared_.reads[task].columns;
  auto col = std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.name == key; });
  if (col == cols.end() || !isIntegerType(col->type)) return {whole};

  auto [schema, name] = splitQualifiedName(t.sourceTable);
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
    SnapshotUnit u{{task}, false, t.group, key, {}, {}, {}, nullptr};
    // Open ends on both sides: no row is outside the ranges, whatever min/max said.
    if (i > 0) u.from = lo + i * width;
    if (i < n - 1) u.to = lo + (i + 1) * width;
    out.push_back(std::move(u));
  }
  spdlog::info("{}: ~{:.0f} rows, copied in {} key ranges of {}", t.id, estimate, out.size(), key);
  return out;
}

}  // namespace pgmorph
