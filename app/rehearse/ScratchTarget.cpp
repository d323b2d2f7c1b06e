#include "app/rehearse/ScratchTarget.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <set>

#include "app/snapshot/SnapshotPlan.h"
#include "cdc/SlotManager.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

// Every table of the state schema keyed by pipeline (state/*Store.cpp).
constexpr const char* kStateTables[] = {"checkpoint",  "snapshot",      "snapshot_tables",
                                        "parked",      "suspended_ddl", "source_columns",
                                        "verify_pause"};

bool exists(PgConnection& target, const std::string& schema, const std::string& name) {
  return target
             .execParams("SELECT to_regclass($1) IS NOT NULL",
                         {target.quoteQualified(schema, name)})
             .value(0, 0) == "t";
}

std::string rowsText(std::int64_t n) {
  return fmt::format("{} row{}", n, n == 1 ? "" : "s");
}

}  // namespace

std::string ScratchContents::describe(const PipelineConfig& config) const {
  std::vector<std::string> items;
  for (const auto& [t, n] : tableRows) items.push_back(fmt::format("{} ({})", t, rowsText(n)));
  for (const auto& [t, n] : stateRows)
    items.push_back(fmt::format("{} ({} of pipeline '{}')", t, rowsText(n), config.pipeline));
  if (slotExists)
    items.push_back(fmt::format("replication slot '{}' on the source{}", config.source.slot,
                                slotActive ? " (active: a pgmorph streams from it)" : ""));
  return fmt::format("{}", fmt::join(items, ", "));
}

ScratchContents ScratchTarget::inspect(const PipelineConfig& config) {
  ScratchContents c;
  PgConnection target(config.target.conninfo, "target");
  // Tables an upsert target loads: the ones the rehearsal fills. A table that only `mode: update`
  // targets write belongs to someone else (the snapshot updates its rows, never empties it).
  std::set<std::string> owned;
  for (const auto& table : config.tables)
    for (const auto& t : table.targets)
      if (t.mode == TargetMode::Upsert) owned.insert(t.targetSchema + "." + t.target);
  for (const auto& table : SnapshotPlan::targetTables(config)) {
    if (!owned.count(table)) continue;
    auto [schema, name] = splitQualifiedName(table);
    if (!exists(target, schema, name)) continue;
    c.existingTables.push_back(table);
    auto n = std::stoll(std::string(
        target.exec(fmt::format("SELECT count(*) FROM {}", target.quoteQualified(schema, name)))
            .value(0, 0)));
    if (n > 0) c.tableRows.emplace_back(table, n);
  }
  for (const char* name : kStateTables) {
    if (!exists(target, config.target.stateSchema, name)) continue;
    auto n = std::stoll(std::string(
        target
            .execParams(fmt::format("SELECT count(*) FROM {} WHERE pipeline = $1",
                                    target.quoteQualified(config.target.stateSchema, name)),
                        {config.pipeline})
            .value(0, 0)));
    if (n > 0) c.stateRows.emplace_back(config.target.stateSchema + "." + name, n);
  }
  SlotManager slots(config.source.conninfo);
  if (auto slot = slots.inspect(config.source.slot)) {
    c.slotExists = true;
    c.slotActive = slot->active;
  }
  return c;
}

void ScratchTarget::reset(const PipelineConfig& config, const ScratchContents& c) {
  if (c.slotActive)
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("replication slot '{}' is active: a pgmorph is streaming from it. A rehearsal "
                    "needs a pipeline of its own (its own `pipeline:` and `source.slot`); stop "
                    "that process or use another pipeline file",
                    config.source.slot));
  spdlog::info("--reset: deleting what pipeline '{}' holds: {}", config.pipeline,
               c.describe(config));
  PgConnection target(config.target.conninfo, "target");
  target.exec("BEGIN");
  if (!c.existingTables.empty()) {
    std::vector<std::string> names;
    for (const auto& t : c.existingTables) {
      auto [schema, name] = splitQualifiedName(t);
      names.push_back(target.quoteQualified(schema, name));
    }
    std::string sql = fmt::format("TRUNCATE {}", fmt::join(names, ", "));
    target.exec("SAVEPOINT truncate_targets");
    try {
      target.exec(sql);
    } catch (const PgError& e) {
      // A table outside the mapping references one of them.
      if (e.sqlstate() != sqlstate::kFeatureNotSupported) throw;
      target.exec("ROLLBACK TO SAVEPOINT truncate_targets");
      spdlog::warn(
          "--reset: a table outside the mapping references the mapped tables ({}): TRUNCATE ... "
          "CASCADE, which also empties the tables that reference them",
          e.what());
      target.exec(sql + " CASCADE");
    }
  }
  for (const auto& [table, n] : c.stateRows) {
    auto [schema, name] = splitQualifiedName(table);
    target.execParams(
        fmt::format("DELETE FROM {} WHERE pipeline = $1", target.quoteQualified(schema, name)),
        {config.pipeline});
  }
  target.exec("COMMIT");
  if (c.slotExists) SlotManager(config.source.conninfo).drop(config.source.slot);
  spdlog::info("--reset: done; the target is a scratch target again");
}

}  // namespace pgmorph
