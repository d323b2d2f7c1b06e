#include "app/status/StatusCommand.h"

#include <fmt/format.h>

#include <charconv>

#include "app/ConfigFile.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

namespace {

// The JSON and text of a status that could not even read its pipeline file.
std::string unreadable(const std::string& path, const std::string& why, bool json) {
  StatusReport report;
  report.file = path;
  report.source.error = report.target.error = "not tried: " + why;
  return json ? report.json() : fmt::format("pgmorph status of {}: {}\n", path, why);
}

}  // namespace

void StatusCommand::readTarget(const PipelineConfig& config, StatusReport& report) {
  PgConnection target(config.target.conninfo, "target");
  const std::string& schema = config.target.stateSchema;
  // Which state tables exist: status reads, it never creates them.
  auto res = target.execParams(
      "SELECT n.oid IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.checkpoint') IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.snapshot') IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.snapshot_tables') IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.parked') IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.suspended_ddl') IS NOT NULL"
      "  FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1",
      {schema});
  auto has = [&](int col) { return res.value(0, col) == "t"; };
  report.stateSchemaExists = has(0);
  if (has(1)) report.checkpoint = CheckpointStore(schema, config.pipeline).load(target);
  if (has(2)) {
    SnapshotStore store(schema, config.pipeline);
    if (auto rec = store.load(target)) {
      StatusSnapshot snap{*rec, {}};
      if (has(3)) snap.tasks = store.tasks(target);
      report.snapshot = std::move(snap);
    }
  }
  if (has(4)) report.parked = ParkedStore(schema, config.pipeline).countByTable(target);
  if (has(5))
    for (auto& d : SuspendedDdlStore(schema, config.pipeline).load(target))
      if (!d.restored) report.suspended.push_back(std::move(d));
  report.unmapped = UnmappedStore(schema, config.pipeline).load(target);
  report.target.reachable = true;
}

void StatusCommand::readSource(const PipelineConfig& config, StatusReport& report) {
  PgConnection source(config.source.conninfo, "source");
  // Read after the target: the checkpoint can only be older than this position, never newer,
  // so a running pgmorph makes the lag look at most slightly larger, never negative. The
  // insert position, as `follow --until-caught-up` uses: a transaction committed with
  // synchronous_commit = off may still sit in the WAL buffers, above pg_current_wal_lsn(),
  // and it is unapplied all the same.
  auto res = source.exec(
      "SELECT pg_current_wal_insert_lsn()::text,"
      " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
  report.currentLsn = Lsn::parse(res.value(0, 0));
  auto now = res.value(0, 1);
  std::from_chars(now.data(), now.data() + now.size(), report.sourceNowMicros);
  // A journal reader has no slot of its own (`pgmorph journal` owns the one it reads from).
  if (!config.source.readsJournal())
    report.slot = SlotManager(config.source.conninfo).inspect(config.source.slot);
  report.source.reachable = true;
}

StatusReport StatusCommand::collect(const PipelineConfig& config) {
  StatusReport report;
  report.file = config.file;
  report.pipeline = config.pipeline;
  report.stateSchema = config.target.stateSchema;
  report.slotName = config.source.slot;
  report.maxRetainedWalBytes = config.slot.maxRetainedWalBytes;
  // Each side on its own: one that fails leaves the other's facts in the report.
  try {
    readTarget(config, report);
  } catch (const std::exception& e) {
    // PgConnection's messages name the database with its password masked.
    report.target = {false, e.what()};
  }
  report.journal = StatusJournal::read(config);
  if (config.source.conninfo.empty()) {
    // Never an empty conninfo: libpq would ask a local default server instead.
    report.sourceConfigured = false;
    report.source.error =
        fmt::format("not asked: source.conninfo is not set (the pipeline reads the journal in {})",
                    config.source.journal);
  } else
    try {
      readSource(config, report);
    } catch (const std::exception& e) {
      report.source = {false, e.what()};
      report.currentLsn.reset();
      report.slot.reset();
    }
  if (!report.target.reachable) {
    report.checkpoint.reset();
    report.snapshot.reset();
    report.parked.clear();
    report.suspended.clear();
    report.unmapped.clear();
  }
  return report;
}

int StatusCommand::run(const std::string& path, bool json, std::ostream& out) {
  PipelineConfig config;
  try {
    config = loadConfigFile(path);  // unreadable (with the OS's reason) or invalid: 2
  } catch (const std::exception& e) {
    out << unreadable(path, e.what(), json);
    return 2;
  }
  StatusReport report = collect(config);
  out << (json ? report.json() : report.text());
  return report.exitCode();
}

}  // namespace pgmorph
