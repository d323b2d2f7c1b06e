#include "app/verify/VerifyCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "app/ConfigFile.h"
#include "app/snapshot/SnapshotPlan.h"
#include "app/verify/TargetAtLsn.h"
#include "app/verify/VerifyReport.h"
#include "app/verify/VerifyWorker.h"
#include "cdc/ExportedSnapshotSlot.h"
#include "cdc/SnapshotReader.h"
#include "cdc/pg/PgError.h"
#include "state/ParkedStore.h"
#include "state/SnapshotStore.h"
#include "transform/Transformer.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool selected(const VerifyOptions& options, const std::string& qualified) {
  if (options.tables.empty()) return true;
  auto [schema, table] = splitQualifiedName(qualified);
  return std::any_of(options.tables.begin(), options.tables.end(),
                     [&](const std::string& t) { return t == qualified || t == table; });
}

std::vector<VerifyTable> tablesToVerify(const Transformer& transformer, const SnapshotPlan& plan,
                                        const VerifyOptions& options, SnapshotReader& source) {
  std::vector<VerifyTable> out;
  std::map<std::string, std::vector<SourceColumn>> columns;  // per source table
  std::map<std::string, double> estimates;                   // rows, per source table
  for (const SnapshotTask& task : plan.tasks()) {
    if (!selected(options, task.targetTable)) continue;
    const TargetMapping* mapping =
        &transformer.config().tables[task.tableIndex].targets[task.targetIndex];
    const auto& plans = transformer.plans();
    auto wp = std::find_if(plans.begin(), plans.end(),
                           [&](const WritePlan& p) { return p.mapping == mapping; });
    if (wp == plans.end()) throw std::logic_error("no write plan for " + task.id);
    auto [schema, name] = splitQualifiedName(task.sourceTable);
    auto cols = columns.find(task.sourceTable);
    if (cols == columns.end()) {
      cols = columns
                 .emplace(task.sourceTable, SnapshotReader::describe(source.connection(), schema,
                                                                     name, task.sourceColumns))
                 .first;
      auto res = source.connection().execParams(
          "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass($1)",
          {task.sourceTable});
      estimates[task.sourceTable] = res.rows() ? std::stod(std::string(res.value(0, 0))) : 0;
    }
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const VerifyTable& t) { return t.name == task.targetTable; });
    if (it == out.end()) {
      out.push_back(VerifyTable{task.targetTable, {}, {}, {}, 0});
      it = std::prev(out.end());
    }
    VerifyTable::Part part{static_cast<std::size_t>(wp - plans.begin()),
                           SnapshotRead{schema, name, cols->second, {}, {}, {}}};
    (task.partial ? it->partials : it->upserts).push_back(std::move(part));
    it->estimatedRows += estimates[task.sourceTable];
    const std::string& idName = transformer.config().tables[task.tableIndex].idName;
    if (std::find(it->sourceTables.begin(), it->sourceTables.end(), idName) ==
        it->sourceTables.end())
      it->sourceTables.push_back(idName);
  }
  for (const auto& wanted : options.tables)
    if (std::none_of(out.begin(), out.end(), [&](const VerifyTable& t) {
          return t.name == wanted || splitQualifiedName(t.name).second == wanted;
        }))
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("--tables names {}, which the pipeline does not write", wanted));
  return out;
}

void runWorkers(VerifyShared& shared, std::size_t jobs) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(std::max<std::size_t>(jobs, 1));
  for (std::size_t j = 0; j < std::max<std::size_t>(jobs, 1); ++j)
    threads.emplace_back([&shared, &errors, j] {
      try {
        VerifyWorker(shared).run();
      } catch (...) {
        errors[j] = std::current_exception();
        shared.cancel = true;
      }
    });
  for (auto& t : threads) t.join();
  // The first failure, not the cancellations it caused in the others.
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

VerifyResult VerifyCommand::verify(const PipelineConfig& config, const VerifyOptions& options,
                                   const StopFlag& stop) {
  auto started = Clock::now();
  VerifyResult result;
  result.file = config.file;
  result.pipeline = config.pipeline;
  result.maxDifferences = options.maxDifferences;

  PgConnection target(config.target.conninfo, "target");
  auto hasSnapshot =
      target.execParams("SELECT to_regclass(quote_ident($1) || '.snapshot') IS NOT NULL",
                        {config.target.stateSchema});
  if (auto rec = hasSnapshot.value(0, 0) == "t"
                     ? SnapshotStore(config.target.stateSchema, config.pipeline).load(target)
                     : std::nullopt;
      rec && rec->status != SnapshotStatus::Done)
    throw PgmorphError(ErrorClass::Operator,
                       "a snapshot of this pipeline is in progress: verify once it is done");

  // A running follower is asked to hold before L exists, so it cannot run past it.
  TargetAtLsn targetAt(config, stop);
  targetAt.prepare();

  // 1. The source, pinned: a temporary slot's consistent point and the snapshot exported with
  // it. The slot ends with this object (and with the process, whatever happens).
  ExportedSnapshotSlot pinned = ExportedSnapshotSlot::create(
      config.source.conninfo, fmt::format("pgmorph_verify_{}", ::getpid()),
      ExportedSnapshotSlot::Lifetime::Temporary);
  result.sourceLsn = pinned.consistentPoint();
  SnapshotReader source(config.source.conninfo, pinned.snapshotName());
  spdlog::info("verify: source snapshot at {}", result.sourceLsn.str());

  // 2. The target, at the same position, in one REPEATABLE READ transaction.
  PinnedTarget at = targetAt.pin(result.sourceLsn, target);
  result.targetCheckpoint = at.checkpoint;
  result.howPinned = at.how;
  result.pauseMillis = at.pauseMillis;

  // 3. Table by table, on `jobs` workers, each in a target transaction importing this one's
  // snapshot (so all of them see the target at L) and a source session importing the slot's.
  TargetCatalog catalog = TargetCatalog::read(target, SnapshotPlan::targetTables(config));
  SnapshotPlan plan = SnapshotPlan::build(config, catalog);
  VerifyShared shared;
  shared.config = &config;
  shared.catalog = &catalog;
  shared.options = &options;
  shared.stop = &stop;
  shared.sourceSnapshot = pinned.snapshotName();
  shared.targetSnapshot = std::string(target.exec("SELECT pg_export_snapshot()").value(0, 0));
  {
    Transformer transformer(config);
    shared.tables = tablesToVerify(transformer, plan, options, source);
  }
  // Largest first: the last table to start is a small one.
  std::stable_sort(
      shared.tables.begin(), shared.tables.end(),
      [](const VerifyTable& a, const VerifyTable& b) { return a.estimatedRows > b.estimatedRows; });
  ParkedStore parked(config.target.stateSchema, config.pipeline);
  shared.parkedTable = parked.exists(target) ? parked.qualifiedName(target) : "";
  shared.results.resize(shared.tables.size());
  runWorkers(shared, std::min<std::size_t>(options.jobs, shared.tables.size()));
  // In the mapping's order again.
  std::vector<std::string> order = SnapshotPlan::targetTables(config);
  for (const auto& name : order)
    for (auto& r : shared.results)
      if (r.targetTable == name) result.tables.push_back(std::move(r));
  target.exec("ROLLBACK");
  pinned.release();
  result.seconds = secondsSince(started);
  return result;
}

int VerifyCommand::run(const std::string& path, const VerifyOptions& options, std::ostream& out) {
  auto fail = [&](const std::string& why) {
    if (options.json)
      out << verifyErrorJson(path, why);
    else
      out << fmt::format("pgmorph verify of {}: could not verify: {}\n", path, why);
    return 2;
  };
  try {
    PipelineConfig config = loadConfigFile(path);  // unreadable (with the OS's reason) or invalid
    requireSourceConninfo(config, "pgmorph verify");
    StopFlag stop;
    VerifyResult result = verify(config, options, stop);
    out << (options.json ? verifyJson(result) : verifyText(result));
    return result.equal() ? 0 : 1;
  } catch (const std::exception& e) {
    // PgConnection's messages name the database with its password masked.
    return fail(e.what());
  }
}

}  // namespace pgmorph
