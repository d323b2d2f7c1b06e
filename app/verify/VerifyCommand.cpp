#include "app/verify/VerifyCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>

#include "app/ConfigFile.h"
#include "app/snapshot/SnapshotPlan.h"
#include "app/verify/ExpectedRows.h"
#include "app/verify/TableComparer.h"
#include "app/verify/TargetAtLsn.h"
#include "app/verify/VerifyReport.h"
#include "cdc/ExportedSnapshotSlot.h"
#include "cdc/SnapshotReader.h"
#include "cdc/pg/PgError.h"
#include "state/ParkedStore.h"
#include "state/SnapshotStore.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One target table to compare: its plans, in file order, with their source reads.
struct VerifyTable {
  std::string name;  // "schema.table"
  std::vector<ExpectedSource> upserts, partials;
  std::vector<std::string> sourceTables;
};

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
  for (const SnapshotTask& task : plan.tasks()) {
    if (!selected(options, task.targetTable)) continue;
    const TargetMapping* mapping =
        &transformer.config().tables[task.tableIndex].targets[task.targetIndex];
    const WritePlan* wp = nullptr;
    for (const auto& p : transformer.plans())
      if (p.mapping == mapping) wp = &p;
    if (!wp) throw std::logic_error("no write plan for " + task.id);
    auto [schema, name] = splitQualifiedName(task.sourceTable);
    auto cols = columns.find(task.sourceTable);
    if (cols == columns.end())
      cols = columns
                 .emplace(task.sourceTable, SnapshotReader::describe(source.connection(), schema,
                                                                     name, task.sourceColumns))
                 .first;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const VerifyTable& t) { return t.name == task.targetTable; });
    if (it == out.end()) {
      out.push_back(VerifyTable{task.targetTable, {}, {}, {}});
      it = std::prev(out.end());
    }
    ExpectedSource es{wp, SnapshotRead{schema, name, cols->second, {}, {}, {}}};
    (task.partial ? it->partials : it->upserts).push_back(std::move(es));
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

  // 3. Table by table.
  TargetCatalog catalog = TargetCatalog::read(target, SnapshotPlan::targetTables(config));
  SnapshotPlan plan = SnapshotPlan::build(config, catalog);
  Transformer transformer(config);
  std::vector<VerifyTable> tables = tablesToVerify(transformer, plan, options, source);
  ParkedStore parked(config.target.stateSchema, config.pipeline);
  TableComparer comparer(target, parked.exists(target) ? parked.qualifiedName(target) : "",
                         config.pipeline, options.maxDifferences);
  ExpectedRows expected(target, source, transformer, catalog, stop);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const VerifyTable& t = tables[i];
    auto tableStarted = Clock::now();
    const TargetTable* table = catalog.table(t.name);
    if (!table) throw PgmorphError(ErrorClass::Operator, "target table " + t.name + " is missing");
    ExpectedTable e =
        expected.build(*table, fmt::format("pgmorph_verify_{}", i), t.upserts, t.partials);
    TableResult r;
    r.targetTable = t.name;
    r.sourceTables = t.sourceTables;
    r.columns = e.columns;
    if (!t.upserts.empty() && t.upserts.front().plan->mapping->legacyIdColumn)
      r.legacyIdColumn = *t.upserts.front().plan->mapping->legacyIdColumn;
    r.unconvertible = e.unconvertible;
    r.unconvertibleSamples = e.unconvertibleSamples;
    r.setWithoutRow = e.setWithoutRow;
    comparer.compare(*table, e, r);
    expected.drop(e);
    r.seconds = secondsSince(tableStarted);
    spdlog::info("verify: {} {} ({} expected rows, {} on the target, {:.2f} s)", t.name,
                 r.equal() ? "equal" : "DIFFERENT", r.expectedRows, r.targetRows, r.seconds);
    result.tables.push_back(std::move(r));
  }
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
  if (!std::ifstream(path)) return fail(fmt::format("cannot read pipeline file '{}'", path));
  try {
    PipelineConfig config = loadConfigFile(path);
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
