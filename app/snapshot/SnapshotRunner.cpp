#include "app/snapshot/SnapshotRunner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "app/journal/JournalSnapshot.h"
#include "app/snapshot/LateReferenceSweep.h"
#include "app/snapshot/ParkedSummary.h"
#include "app/snapshot/SnapshotCopier.h"
#include "app/snapshot/SnapshotObserver.h"
#include "app/snapshot/SnapshotPlan.h"
#include "cdc/SlotManager.h"
#include "cdc/SnapshotReader.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"
#include "sink/BulkLoadPolicy.h"
#include "sink/ForeignKeyIndexes.h"
#include "sink/IndexSuspender.h"
#include "sink/SqlBuilder.h"
#include "sink/TargetCatalog.h"
#include "transform/Transformer.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

SnapshotRunner::SnapshotRunner(const PipelineConfig& config, const SnapshotOptions& options,
                               StopFlag& stop, std::function<void()> poll)
    : config_(config),
      options_(options),
      stop_(stop),
      poll_(std::move(poll)),
      store_(config.target.stateSchema, config.pipeline),
      ddl_(config.target.stateSchema, config.pipeline),
      checkpoints_(config.target.stateSchema, config.pipeline) {}

SnapshotRunner::~SnapshotRunner() = default;

SnapshotEnd SnapshotRunner::run() {
  PgConnection control(config_.target.conninfo, "target");
  store_.ensureSchema(control);
  ddl_.ensureSchema(control);
  checkpoints_.ensureSchema(control);
  // One snapshot per pipeline at a time; the lock goes with this session.
  std::string lockName =
      fmt::format("pgmorph snapshot {}.{}", config_.target.stateSchema, config_.pipeline);
  if (control.execParams("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {lockName})
          .value(0, 0) != "t")
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("another pgmorph is taking the snapshot of pipeline '{}' into "
                                   "this target right now: let it finish (or stop it) first",
                                   config_.pipeline));
  auto rec = store_.load(control);
  if (rec && rec->status == SnapshotStatus::Done) {
    spdlog::info("the snapshot of pipeline '{}' is already done (slot '{}', consistent point {})",
                 config_.pipeline, rec->slot, rec->consistentPoint.str());
    held_.reset();
    return SnapshotEnd::AlreadyDone;
  }

  // Foreign keys dropped for the bulk load still order the copy and name parents.
  std::vector<ForeignKey> suspendedKeys;
  for (const auto& d : ddl_.load(control))
    if (!d.restored && d.kind == DdlKind::ForeignKey)
      suspendedKeys.push_back(ForeignKey{d.name, d.qualifiedTable(), d.columns, d.referencedTable,
                                         d.referencedColumns, d.deferrable, d.initiallyDeferred});
  TargetCatalog catalog =
      TargetCatalog::read(control, SnapshotPlan::targetTables(config_), suspendedKeys);
  SnapshotPlan plan = SnapshotPlan::build(config_, catalog);
  for (const auto& note : plan.cycleNotes()) spdlog::info("{}", note);
  SlotManager slots(config_.source.conninfo);
  slots.checkSource();

  std::unique_ptr<SnapshotReader> probe;
  if (!rec) {
    rec = startFresh(control, plan, slots);
  } else {
    std::set<std::string> recorded, planned;
    bool allCopied = true;
    for (const auto& t : store_.tasks(control)) {
      recorded.insert(t.task);
      allCopied = allCopied && t.state == SnapshotTaskState::Done;
    }
    for (const auto& t : plan.tasks()) planned.insert(t.id);
    if (allCopied && recorded == planned) {
      spdlog::info(
          "every table of the snapshot of pipeline '{}' (slot '{}', consistent point {}) is "
          "copied: restoring what the bulk load suspended and finishing",
          config_.pipeline, rec->slot, rec->consistentPoint.str());
      restoreTimed(control, plan, catalog);
      finish(control, slots, *rec);
      logParkedSummary(control, ParkedStore(config_.target.stateSchema, config_.pipeline));
      return SnapshotEnd::Done;
    }
    probe = tryImport(rec->snapshotName);
    if (!probe) {
      spdlog::warn(
          "the snapshot started earlier (slot '{}', consistent point {}) can no longer be "
          "imported: the process that exported it has ended. Starting the snapshot over from "
          "scratch at a new point in time (copies from two points in time are never mixed)",
          rec->slot, rec->consistentPoint.str());
      rec = startOver(control, plan, slots, *rec);
    } else if (recorded != planned) {
      spdlog::warn("the mapping's tables changed since the snapshot started: starting it over");
      probe.reset();
      rec = startOver(control, plan, slots, *rec);
    } else {
      spdlog::info("resuming the snapshot of pipeline '{}' (slot '{}', consistent point {})",
                   config_.pipeline, rec->slot, rec->consistentPoint.str());
      resetUnfinished(control, plan);
    }
  }
  if (!probe) probe = tryImport(rec->snapshotName);
  if (!probe)
    throw SnapshotGoneError(
        fmt::format("the snapshot just exported by slot '{}' cannot be imported", rec->slot));

  SnapshotCopier copier(config_, options_, plan, catalog, store_, ddl_, stop_, poll_);
  SnapshotEnd end = copier.run(control, *rec, *probe);
  if (end != SnapshotEnd::Done) return end;
  probe.reset();
  restoreTimed(control, plan, catalog);
  finish(control, slots, *rec);
  logParkedSummary(control, ParkedStore(config_.target.stateSchema, config_.pipeline));
  return SnapshotEnd::Done;
}

SnapshotRecord SnapshotRunner::startFresh(PgConnection& control, const SnapshotPlan& plan,
                                          SlotManager& slots) {
  const std::string& slot = config_.source.slot;
  if (auto cp = checkpoints_.load(control))
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("pipeline '{}' already streams into this target (checkpoint {} on slot '{}') "
                    "without a snapshot recorded: a snapshot now would need a new slot and empty "
                    "target tables. To start over, empty the mapped target tables, run DELETE "
                    "FROM {}.checkpoint WHERE pipeline = '{}', then `pgmorph snapshot "
                    "--recreate-slot`",
                    config_.pipeline, cp->lsn.str(), cp->slot, config_.target.stateSchema,
                    config_.pipeline));
  // A pipeline reading a journal has no slot of its own (its snapshot's slot is temporary).
  if (!config_.source.readsJournal() && slots.inspect(slot)) {
    if (!options_.recreateSlot)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("replication slot '{}' already exists on the source, but this target has "
                      "no finished snapshot of pipeline '{}': streaming from it would miss the "
                      "rows written before it. Run `pgmorph snapshot --recreate-slot` to drop "
                      "and re-create the slot with a new snapshot",
                      slot, config_.pipeline));
    spdlog::info("--recreate-slot: dropping replication slot '{}'", slot);
    dropSlot(slots, slot);
  }
  std::vector<std::string> nonEmpty;
  for (const auto& table : plan.ownedTablesChildFirst()) {
    auto [schema, name] = splitQualifiedName(table);
    if (control
            .exec(fmt::format("SELECT EXISTS (SELECT 1 FROM {})",
                              control.quoteQualified(schema, name)))
            .value(0, 0) == "t")
      nonEmpty.push_back(table);
  }
  if (!nonEmpty.empty())
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("the snapshot copies into empty target tables, but {} already "
                                   "hold rows: empty them (TRUNCATE) or use a fresh target "
                                   "database",
                                   fmt::join(nonEmpty, ", ")));
  recordIntent(control, plan, false);
  return createSlotAndRecord(control, plan);
}

SnapshotRecord SnapshotRunner::startOver(PgConnection& control, const SnapshotPlan& plan,
                                         SlotManager& slots, const SnapshotRecord& old) {
  held_.reset();
  recordIntent(control, plan, true);
  // A journal reader's slot was temporary: it went with the connection that exported it.
  if (!config_.source.readsJournal() && slots.inspect(old.slot)) dropSlot(slots, old.slot);
  if (!config_.source.readsJournal() && old.slot != config_.source.slot &&
      slots.inspect(config_.source.slot)) {
    if (!options_.recreateSlot)
      throw PgmorphError(ErrorClass::Operator,
                         fmt::format("replication slot '{}' already exists on the source and is "
                                     "not the one this snapshot created: run `pgmorph snapshot "
                                     "--recreate-slot` to drop and re-create it",
                                     config_.source.slot));
    dropSlot(slots, config_.source.slot);
  }
  return createSlotAndRecord(control, plan);
}

void SnapshotRunner::recordIntent(PgConnection& control, const SnapshotPlan& plan,
                                  bool emptyTargets) {
  // Recorded before the slot exists: a crash between creating the slot and recording it
  // then finds "in progress, not importable" and starts over, instead of a slot that looks
  // like someone else's.
  std::vector<SnapshotTaskSpec> specs;
  for (const auto& t : plan.tasks()) specs.push_back({t.id, t.sourceTable, t.targetTable});
  control.exec("BEGIN");
  if (emptyTargets) {
    std::vector<std::string> names;
    for (const auto& table : plan.ownedTablesChildFirst()) {
      auto [schema, name] = splitQualifiedName(table);
      names.push_back(control.quoteQualified(schema, name));
    }
    if (!names.empty()) {
      spdlog::info("emptying the target tables of the unfinished snapshot: {}",
                   fmt::join(plan.ownedTablesChildFirst(), ", "));
      control.exec("SAVEPOINT empty_targets");
      try {
        control.exec(fmt::format("TRUNCATE {}", fmt::join(names, ", ")));
      } catch (const PgError& e) {
        // A table outside the list references one of them (TRUNCATE refuses that with
        // feature_not_supported): delete child-first instead. Anything else is an error.
        if (e.sqlstate() != sqlstate::kFeatureNotSupported) throw;
        spdlog::info("TRUNCATE refused ({}): deleting the rows child-first instead", e.what());
        control.exec("ROLLBACK TO SAVEPOINT empty_targets");
        for (const auto& n : names) control.exec("DELETE FROM " + n);
      }
    }
    // Partial targets on tables the snapshot does not own: give back the columns they filled.
    Transformer transformer(config_);
    for (std::size_t i : plan.partialsOnForeignTables()) {
      const auto& task = plan.tasks()[i];
      const TargetMapping* m =
          &transformer.config().tables[task.tableIndex].targets[task.targetIndex];
      for (const auto& p : transformer.plans()) {
        if (p.mapping != m) continue;
        SqlBuilder sql(p, [&](std::string_view s) { return control.quoteIdent(s); });
        std::vector<std::optional<std::string_view>> params;
        for (const auto& [col, value] : p.constantOwners) params.emplace_back(value);
        control.execParams(sql.truncate(), params);
      }
    }
  }
  if (!emptyTargets) ddl_.clearRestored(control);  // history of an earlier, finished snapshot
  // Before the bulk load drops anything: with the indexes and foreign keys still in the
  // catalog, "no index leads with its columns" means what it says.
  if (config_.snapshot.indexForeignKeys)
    recordForeignKeyIndexes(control, ddl_, SnapshotPlan::targetTables(config_));
  if (config_.snapshot.deferIndexes) suspendIndexes(control, plan);
  SnapshotRecord intent;
  intent.slot = config_.source.slot;
  intent.status = SnapshotStatus::InProgress;
  store_.start(control, intent, specs);
  checkpoints_.reset(control);
  control.exec("COMMIT");
}

SnapshotRecord SnapshotRunner::createSlotAndRecord(PgConnection& control,
                                                   const SnapshotPlan& plan) {
  spdlog::info(
      "creating replication slot '{}' with an exported snapshot (waits for "
      "transactions running on the source to end)",
      config_.source.slot);
  auto started = std::chrono::system_clock::now();
  if (config_.source.readsJournal())
    held_.emplace(JournalSnapshot::createSlot(config_));
  else
    held_.emplace(ExportedSnapshotSlot::create(config_.source.conninfo, config_.source.slot));
  if (config_.source.readsJournal())
    JournalSnapshot::holdPosition(config_, held_->consistentPoint());
  if (options_.observer)
    options_.observer->slotCreated(started, std::chrono::system_clock::now(),
                                   held_->consistentPoint());
  SnapshotRecord rec;
  rec.slot = held_->slot();
  rec.consistentPoint = held_->consistentPoint();
  rec.snapshotName = held_->snapshotName();
  rec.status = SnapshotStatus::InProgress;
  std::vector<SnapshotTaskSpec> specs;
  for (const auto& t : plan.tasks()) specs.push_back({t.id, t.sourceTable, t.targetTable});
  control.exec("BEGIN");
  store_.start(control, rec, specs);
  control.exec("COMMIT");
  spdlog::info("slot '{}' created at consistent point {}; snapshot {} exported", rec.slot,
               rec.consistentPoint.str(), rec.snapshotName);
  return rec;
}

void SnapshotRunner::resetUnfinished(PgConnection& control, const SnapshotPlan& plan) {
  // A task left `copying` may have committed some key ranges: empty its target table and
  // redo every task that writes into it (the table's rows cannot be told apart by task).
  std::map<std::string, SnapshotTaskRow> rows;
  for (auto& r : store_.tasks(control)) rows[r.task] = r;
  std::set<std::string> tablesToEmpty;
  std::vector<std::string> partialsToRedo;
  for (const auto& t : plan.tasks()) {
    auto it = rows.find(t.id);
    if (it == rows.end() || it->second.state != SnapshotTaskState::Copying) continue;
    if (t.partial)
      partialsToRedo.push_back(t.id);  // one transaction each: nothing of it was committed
    else
      tablesToEmpty.insert(t.targetTable);
  }
  if (tablesToEmpty.empty() && partialsToRedo.empty()) return;
  control.exec("BEGIN");
  for (const auto& table : plan.ownedTablesChildFirst()) {
    if (!tablesToEmpty.count(table)) continue;
    auto [schema, name] = splitQualifiedName(table);
    spdlog::info("emptying {} to copy it again (its copy was interrupted)", table);
    control.exec("DELETE FROM " + control.quoteQualified(schema, name));
    for (const auto& t : plan.tasks())
      if (t.targetTable == table) store_.markPending(control, t.id);
  }
  for (const auto& id : partialsToRedo) store_.markPending(control, id);
  control.exec("COMMIT");
}

void SnapshotRunner::suspendIndexes(PgConnection& control, const SnapshotPlan& plan) {
  // Rebuilding an index needs CREATE on its table's schema besides owning the table: without it
  // the copy would drop what it cannot build again (and stop with the definitions suspended).
  std::vector<std::string> schemas;
  for (const auto& table : plan.ownedTablesChildFirst()) {
    auto schema = splitQualifiedName(table).first;
    if (std::find(schemas.begin(), schemas.end(), schema) == schemas.end())
      schemas.push_back(schema);
  }
  std::string list;
  for (const auto& s : schemas) list += (list.empty() ? "" : ",") + s;
  auto res = control.execParams(
      "SELECT string_agg(n, ', ') FROM unnest(string_to_array($1, ',')) AS n "
      "WHERE NOT has_schema_privilege(n, 'CREATE')",
      {list});
  if (!res.isNull(0, 0)) {
    spdlog::warn(
        "the target role may not drop the indexes and foreign keys of the loaded tables: it has "
        "no CREATE on schema {}, which rebuilding them needs; loading with them in place (slower; "
        "GRANT CREATE ON SCHEMA {} TO <role> for the bulk load, or set snapshot.defer_indexes: "
        "false)",
        res.value(0, 0), res.value(0, 0));
    return;
  }
  control.exec("SAVEPOINT suspend_indexes");
  try {
    IndexSuspender(ddl_).suspend(control, plan.ownedTablesChildFirst(), bulkLoadPolicy(config_));
  } catch (const PgError& e) {
    if (e.sqlstate() != sqlstate::kInsufficientPrivilege) throw;
    control.exec("ROLLBACK TO SAVEPOINT suspend_indexes");
    spdlog::warn(
        "the target role may not drop the indexes and foreign keys of the loaded tables ({}): "
        "loading with them in place (slower; the role must own the tables for the bulk load, "
        "or set snapshot.defer_indexes: false)",
        e.what());
  }
}

void SnapshotRunner::restoreTimed(PgConnection& control, const SnapshotPlan& plan,
                                  const TargetCatalog& catalog) {
  auto started = std::chrono::system_clock::now();
  sweepLateReferences(control, config_, plan, catalog);
  restoreSuspended(control);
  if (options_.observer) options_.observer->restored(started, std::chrono::system_clock::now());
}

void SnapshotRunner::restoreSuspended(PgConnection& control) {
  IndexSuspender suspender(ddl_);
  for (const auto& table : suspender.tablesToRebuild(control))
    suspender.restoreTable(control, table);
  suspender.restoreForeignKeys(control, options_.jobs, [&] {
    return PgConnection(config_.target.conninfo, "target (foreign keys)");
  });
}

void SnapshotRunner::dropSlot(SlotManager& slots, const std::string& slot) {
  // The walsender of a process that just died may hold the slot for a moment.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto info = slots.inspect(slot);
    if (!info) return;
    if (!info->active) break;
    if (Clock::now() > deadline)
      throw PgmorphError(ErrorClass::Transient,
                         fmt::format("replication slot '{}' is still in use by another "
                                     "connection; it cannot be dropped yet",
                                     slot));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  slots.drop(slot);
}

std::unique_ptr<SnapshotReader> SnapshotRunner::tryImport(const std::string& snapshotName) {
  if (snapshotName.empty()) return nullptr;
  try {
    return std::make_unique<SnapshotReader>(config_.source.conninfo, snapshotName);
  } catch (const SnapshotGoneError&) {
    return nullptr;
  }
}

void SnapshotRunner::finish(PgConnection& control, SlotManager& slots, const SnapshotRecord& rec) {
  // A journal reader continues from the journal, not from the (temporary) slot: the journal
  // must hold every transaction committing after the consistent point.
  if (config_.source.readsJournal()) {
    JournalSnapshot::requireCovered(config_, rec.consistentPoint);
  } else if (auto slot = slots.inspect(rec.slot);
             !slot || slot->confirmedFlush > rec.consistentPoint) {
    held_.reset();
    throw PgmorphError(ErrorClass::Transient,
                       fmt::format("replication slot '{}' was dropped or consumed by someone else "
                                   "during the snapshot: the snapshot has to start over",
                                   rec.slot));
  }
  // One transaction: the snapshot is done exactly when streaming knows where to start.
  control.exec("BEGIN");
  store_.markDone(control);
  checkpoints_.save(control, rec.consistentPoint, rec.slot, 0);
  control.exec("COMMIT");
  held_.reset();  // every reader is done: the exported snapshot may go
  spdlog::info("snapshot done: streaming starts at the slot's consistent point {}",
               rec.consistentPoint.str());
}

}  // namespace pgmorph
