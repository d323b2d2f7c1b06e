#include "app/snapshot/SnapshotWorker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>

#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"
#include "sink/ChangeParker.h"
#include "sink/CopyKeyCheck.h"
#include "sink/CopyUpdateWriter.h"
#include "sink/CopyWriter.h"
#include "sink/IndexSuspender.h"
#include "sink/OrphanSweeper.h"
#include "sink/ParkingCopy.h"

namespace pgmorph {

SnapshotWorker::SnapshotWorker(const SnapshotShared& shared)
    : shared_(shared),
      transformer_(*shared.config),
      parked_(shared.config->target.stateSchema, shared.config->pipeline),
      checker_(std::make_unique<ParentChecker>(*shared.catalog, transformer_.plans())) {
  checker_->share(&shared.committedRows);
}

SnapshotWorker::~SnapshotWorker() {
  disconnect();
}

void SnapshotWorker::connect() {
  if (!reader_)
    reader_ =
        std::make_unique<SnapshotReader>(shared_.config->source.conninfo, shared_.snapshotName);
  if (!target_) {
    target_ =
        std::make_unique<PgConnection>(shared_.config->target.conninfo, "target (snapshot writer)");
    // As PostgreSQL's own replication apply does: no row-by-row foreign-key triggers while
    // loading; CopyKeyCheck checks every key in bulk before a copy commits. Only roles
    // allowed to set it (superuser, or GRANT SET ON PARAMETER) get the faster path.
    try {
      target_->exec("SET session_replication_role = replica");
      bulkKeyChecks_ = true;
    } catch (const PgError& e) {
      if (e.sqlstate() != sqlstate::kInsufficientPrivilege) throw;
      bulkKeyChecks_ = false;
      if (!shared_.toldNoReplicaRole.exchange(true))
        spdlog::info(
            "the target role may not set session_replication_role: foreign keys are "
            "checked row by row during the snapshot (slower; GRANT SET ON PARAMETER "
            "session_replication_role TO <role> allows the bulk check)");
    }
    // The workers of this snapshot create the parked table once, not concurrently.
    std::lock_guard<std::mutex> lock(shared_.parkedSchema);
    parked_.ensureSchema(*target_);
  }
}

void SnapshotWorker::checkKeys(std::size_t task) {
  if (!bulkKeyChecks_) return;
  const SnapshotTask& t = shared_.plan->tasks()[task];
  const TargetMapping& m = shared_.config->tables[t.tableIndex].targets[t.targetIndex];
  const std::string& key = m.legacyIdColumn && !t.partial ? *m.legacyIdColumn : m.idColumn;
  CopyKeyCheck::check(*target_, shared_.catalog->graph(), t.targetTable, key, t.sourceTable,
                      shared_.suspendedKeys);
}

void SnapshotWorker::disconnect() noexcept {
  // Closing the target session rolls back its open transaction: a unit that failed leaves
  // nothing behind. The reader's transaction was read-only.
  target_.reset();
  reader_.reset();
  // Rows this worker saw land in a transaction that is now rolled back are not there.
  if (checker_) checker_->forget();
}

const WritePlan& SnapshotWorker::planOf(const SnapshotTask& task) const {
  // Plans point into the Transformer's own copy of the config: match by that copy.
  const TargetMapping* mapping =
      &transformer_.config().tables[task.tableIndex].targets[task.targetIndex];
  for (const auto& p : transformer_.plans())
    if (p.mapping == mapping) return p;
  throw std::logic_error("no write plan for snapshot task " + task.id);
}

void SnapshotWorker::copy(const SnapshotUnit& unit) {
  try {
    connect();
    if (!unit.rebuildTable.empty()) {
      unit.rebuildProgress->start();
      IndexSuspender(*shared_.ddl).restoreTable(*target_, unit.rebuildTable);
      unit.rebuildProgress->done();
      return;
    }
    const auto& tasks = shared_.plan->tasks();
    if (tasks[unit.tasks.front()].partial) {
      for (std::size_t t : unit.tasks) {
        shared_.progress[t]->start();
        target_->exec("BEGIN");
        std::uint64_t rows = copyPartial(t);
        checkKeys(t);
        bool done = shared_.store->addRange(*target_, tasks[t].id, static_cast<std::int64_t>(rows));
        target_->exec("COMMIT");
        checker_->committed();
        shared_.progress[t]->addStored(rows);
        if (done) shared_.progress[t]->done();
      }
      return;
    }
    if (unit.oneTransaction) requireCycleLoadable(unit);
    target_->exec("BEGIN");
    // A cycle's rows reference each other both ways: check its keys at commit.
    if (unit.oneTransaction) target_->exec("SET CONSTRAINTS ALL DEFERRED");
    std::vector<std::pair<std::size_t, std::uint64_t>> stored;
    std::vector<bool> done;
    for (std::size_t t : unit.tasks) {
      shared_.progress[t]->start();
      std::uint64_t rows = copyUpsert(t, unit);
      // Same transaction as the rows: the part is recorded done exactly when it is there.
      done.push_back(
          shared_.store->addRange(*target_, tasks[t].id, static_cast<std::int64_t>(rows)));
      stored.emplace_back(t, rows);
    }
    sweepUnit(unit);
    // Keys are checked once a table is complete: after its last range, after a whole cycle.
    for (std::size_t i = 0; i < unit.tasks.size(); ++i)
      if (unit.oneTransaction || done[i]) checkKeys(unit.tasks[i]);
    target_->exec("COMMIT");
    // Only now may the other workers take what this unit wrote or saw for present.
    checker_->committed();
    for (std::size_t i = 0; i < stored.size(); ++i) {
      shared_.progress[stored[i].first]->addStored(stored[i].second);
      if (done[i]) shared_.progress[stored[i].first]->done();
    }
  } catch (...) {
    disconnect();
    throw;
  }
}

template <class Sink>
void SnapshotWorker::stream(std::size_t task, const SnapshotRead& read, const WritePlan& plan,
                            WriteOp op, Sink& sink) {
  const SnapshotTask& t = shared_.plan->tasks()[task];
  auto& counter = shared_.progress[task]->rowsRead;
  reader_->start(read);
  std::uint64_t unreported = 0;
  while (reader_->next(change_)) {
    batch_.clear();
    TransformOutcome outcome = transformer_.transformWithPolicy(change_, batch_);
    if (!outcome.nulled.empty()) spdlog::warn("{}: written as NULL", outcome.nulled);
    // on_error: park — the row is kept once, by the task of its table's first target (the
    // others skip it, as the stream parks the whole change).
    if (outcome.status == TransformOutcome::Status::Failed && outcome.policy == RowPolicy::Park) {
      if constexpr (requires { sink.park(ParkedRow{}); }) {
        if (t.targetIndex == 0)
          sink.park(ChangeParker::unconvertibleRow(transformer_.config().tables[t.tableIndex],
                                                   change_, outcome));
        continue;
      } else if (t.targetIndex != 0) {
        continue;
      }
    }
    if (outcome.status == TransformOutcome::Status::Failed)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("cannot transform a row of source table {} for {} during the snapshot: {}. "
                      "Fix the source row or the mapping, then run the snapshot again",
                      t.sourceTable, t.targetTable, outcome.problem));
    for (const TargetWrite& w : batch_.writes())
      if (w.plan == &plan && w.op == op) sink.write(w);
    // Progress and cancellation are checked every few hundred rows, off the per-row path.
    if (++unreported == 256) {
      counter.fetch_add(unreported, std::memory_order_relaxed);
      unreported = 0;
      if (shared_.cancel->load(std::memory_order_relaxed)) throw SnapshotCancelled();
    }
  }
  counter.fetch_add(unreported, std::memory_order_relaxed);
}

bool SnapshotWorker::copiedWhole(const SnapshotTask& t, const SnapshotUnit& unit) const {
  const auto& selfRefs = shared_.catalog->graph().selfReferences();
  return unit.oneTransaction ||
         std::any_of(selfRefs.begin(), selfRefs.end(),
                     [&](const ForeignKey& fk) { return fk.child == t.targetTable; });
}

void SnapshotWorker::requireCycleLoadable(const SnapshotUnit& unit) const {
  const auto& tasks = shared_.plan->tasks();
  std::set<std::string> tables;
  for (std::size_t i : unit.tasks) tables.insert(tasks[i].targetTable);
  for (const std::string& table : tables)
    for (const ForeignKey* fk : shared_.catalog->graph().parentsOf(table)) {
      if (fk->deferrable || fk->child == fk->parent || !tables.count(fk->parent)) continue;
      // SnapshotPlan let this cycle through because the bulk load suspends its keys; if this
      // one is in place after all (the role does not own the table, the load found rows), the
      // copy cannot satisfy it in any order.
      if (!shared_.suspendedKeys.count(fk->child + ':' + fk->name))
        throw PgmorphError(
            ErrorClass::Operator,
            fmt::format("the snapshot cannot load the cycle between {}: foreign key {} on {} is "
                        "not DEFERRABLE and the bulk load could not suspend it (see the log "
                        "above). Run ALTER TABLE {} ALTER CONSTRAINT {} DEFERRABLE, then run the "
                        "snapshot again",
                        fmt::join(tables, ", "), fk->name, fk->child, fk->child, fk->name));
    }
}

std::vector<std::size_t> SnapshotWorker::lateColumns(const SnapshotTask& task,
                                                     const WritePlan& plan) const {
  std::vector<std::size_t> out;
  for (const auto& [table, column] : shared_.plan->lateChecks()) {
    if (table != task.targetTable) continue;
    auto c = std::find(plan.columns.begin(), plan.columns.end(), column);
    if (c != plan.columns.end()) out.push_back(static_cast<std::size_t>(c - plan.columns.begin()));
  }
  return out;
}

void SnapshotWorker::sweepUnit(const SnapshotUnit& unit) {
  const auto& tasks = shared_.plan->tasks();
  std::vector<const WritePlan*> plans;
  std::vector<std::vector<std::size_t>> late;
  for (std::size_t i : unit.tasks)
    if (!tasks[i].partial && copiedWhole(tasks[i], unit)) {
      plans.push_back(&planOf(tasks[i]));
      late.push_back(lateColumns(tasks[i], *plans.back()));
    }
  if (plans.empty()) return;
  OrphanSweeper sweeper(*checker_, transformer_.plans());
  std::size_t nulled = 0, parked = 0;
  // Parking a row takes it off the target, which may leave rows naming it: to a fixpoint
  // (rows only ever leave, so this ends).
  for (;;) {
    OrphanSweeper::Result found;
    for (std::size_t k = 0; k < plans.size(); ++k)
      sweeper.sweepTable(*target_, *plans[k], found, late[k]);
    if (!found.failed.empty())
      throw PgmorphError(ErrorClass::Operator,
                         sweeper.describe(found.failed.front(), "run the snapshot again."));
    for (const auto& n : found.nulled) parked_.park(*target_, sweeper.parkedRow(n, Lsn()));
    for (auto& p : found.parked) {
      parked_.park(*target_, sweeper.parkedRow(p, Lsn()));
      int own = checker_->table(p.row.plan->targetSchema + "." + p.row.plan->targetTable);
      if (own >= 0) checker_->noteGone(own, p.row.row);
    }
    nulled += found.nulled.size();
    parked += found.parked.size();
    if (found.parked.empty()) break;
  }
  if (nulled || parked)
    spdlog::warn(
        "snapshot: {} rows of {} name a parent that is not on the target: {} references set to "
        "NULL (on_missing: null), {} rows parked (on_missing: park); see pgmorph parked list",
        nulled + parked, plans.size() == 1 ? plans.front()->targetTable : std::string("a cycle"),
        nulled, parked);
}

std::uint64_t SnapshotWorker::copyUpsert(std::size_t task, const SnapshotUnit& unit) {
  const SnapshotTask& t = shared_.plan->tasks()[task];
  const WritePlan& plan = planOf(t);
  SnapshotRead read = shared_.reads[task];
  read.rangeColumn = unit.rangeColumn;
  read.from = unit.from;
  read.to = unit.to;
  const TargetTable& table = *shared_.catalog->table(t.targetTable);
  // Rows that must land together — a cycle's tables in one transaction, a table referencing
  // itself — go in one COPY, unparked: their parents may come later in the same load, which a
  // check before the copy cannot see (the database checks them at the end instead).
  bool together = copiedWhole(t, unit);
  auto run = [&](auto& writer) {
    writer.begin();
    try {
      stream(task, read, plan, WriteOp::Upsert, writer);
    } catch (...) {
      writer.abort();
      throw;
    }
    return writer.finish();
  };
  // Binary COPY where every column allows it; timestamps only when their texts need no zone
  // database to convert (source.timezone UTC).
  const CopyFormat format{
      .binary = true,
      .utcTimestamps = CopyBinaryEncoder::isUtcZone(shared_.config->source.timezone)};
  if (together) {
    CopyWriter writer(*target_, plan, table, format);
    return run(writer);
  }
  ParkingCopy writer(*target_, plan, table, *checker_, parked_, ParkingCopy::kSegmentRows,
                     ParkingCopy::kHeldRows, format);
  writer.leaveUnchecked(lateColumns(t, plan));
  return run(writer);
}

std::uint64_t SnapshotWorker::copyPartial(std::size_t task) {
  const SnapshotTask& t = shared_.plan->tasks()[task];
  const WritePlan& plan = planOf(t);
  CopyUpdateWriter writer(*target_, plan, *shared_.catalog->table(t.targetTable));
  writer.begin();
  try {
    // Releases are what streaming needs when a key moves; the snapshot's target rows start
    // without partial values, so only the SetColumns matter.
    stream(task, shared_.reads[task], plan, WriteOp::SetColumns, writer);
  } catch (...) {
    writer.abort();
    throw;
  }
  return writer.finish();
}

}  // namespace pgmorph
