// TargetWriter, refusals: applyOrdered() sends a batch in passes until it lands — each pass
// one pipeline behind a savepoint (sendOrdered() sends the first pass and returns while the
// server runs it; finishOrdered() reads it and runs the passes that follow); a pass that fails is
// rolled back to the savepoint, and the next one sends the failed multi-row run row by row (which
// isolates the refused write) or leaves out the write the RefusalHandler skipped. Also here: what a
// refusal says (refusal, failureFrom: the server's SQLSTATE, constraint and column;
// explainForeignKey: the constraint's columns and the parent the row waits for).
#include "sink/TargetWriter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "cdc/pg/OneLine.h"
#include "cdc/pg/SqlState.h"
#include "sink/PipelineScope.h"
#include "sink/TargetWriterMessages.h"

namespace pgmorph {

using writermessages::describeError;
using writermessages::describeWrite;
using writermessages::errorField;
using writermessages::sourceName;

namespace {
constexpr const char* kSavepoint = "pgmorph_batch";

// "schema"."constraint", ... for SET CONSTRAINTS; the schema is the child table's.
std::string constraintList(const PgConnection& conn, const OrderedSegment& segment) {
  std::string out;
  for (const ForeignKey* fk : segment.deferred) {
    if (!out.empty()) out += ", ";
    auto dot = fk->child.find('.');
    if (dot != std::string::npos) out += conn.quoteIdent(fk->child.substr(0, dot)) + ".";
    out += conn.quoteIdent(fk->name);
  }
  return out;
}
}  // namespace

void TargetWriter::rollbackToSavepoint() {
  // Every pass begins with its SAVEPOINT and a failure is a later command: it exists. It stays
  // after the rollback: the next pass releases it and sets a new one. If even this fails, the
  // whole transaction goes.
  savepoint_ = true;
  try {
    conn_.exec(fmt::format("ROLLBACK TO SAVEPOINT {}", kSavepoint));
  } catch (...) {
    rollbackQuietly();
    throw;
  }
}

void TargetWriter::applyOrdered(const OrderedBatch& batch, const RefusalHandler& onRefused) {
  sendOrdered(batch);
  finishOrdered(onRefused);
}

void TargetWriter::sendOrdered(const OrderedBatch& batch, bool tentative) {
  requireOpen("sendOrdered");
  if (pass_) throw std::logic_error("TargetWriter::sendOrdered: a batch is still in flight");
  if (batch.writes.empty()) return;
  const std::size_t n = batch.writes.size();
  try {
    // Outside the pipeline: the first batch of a plan reads its column types.
    for (std::size_t i = 0; i < n; ++i) {
      if (!batch.writes[i].write || !batch.writes[i].write->plan)
        throw std::invalid_argument(fmt::format("write {} of the ordered batch has no plan", i));
      bulk_.loadTypes(*batch.writes[i].write->plan);
    }
  } catch (...) {
    rollbackQuietly();
    throw;
  }
  skip_.assign(n, 0);
  oneByOne_.assign(n, 0);
  tentative_ = tentative;
  sendPass(batch);
}

bool TargetWriter::finishOrdered(const RefusalHandler& onRefused) {
  // Each pass sends the whole batch in one pipeline. A pass that fails is rolled back to the
  // savepoint and tells the next what to do differently: send a failed run row by row, or
  // leave out a write the handler skipped. Every pass changes one of those, so this ends.
  withdrawn_ = false;
  while (passBatch_) {
    const OrderedBatch& batch = *passBatch_;
    if (finishPass(onRefused)) break;
    sendPass(batch);
  }
  tentative_ = false;
  return !withdrawn_;
}

void TargetWriter::sendPass(const OrderedBatch& batch) {
  sent_.clear();
  utilities_.clear();
  passLocal_.reset();
  try {
    pass_.emplace(conn_);
    // The savepoint of the previous batch (or pass) is released only now, in the same round
    // trip: a set-columns run that misses a row is only seen after its pass has run, and
    // must still be able to roll back to it. COMMIT releases the last one.
    if (savepoint_) queueUtility(fmt::format("RELEASE SAVEPOINT {}", kSavepoint));
    queueUtility(fmt::format("SAVEPOINT {}", kSavepoint));
    for (const OrderedSegment& segment : batch.segments) {
      std::string deferred = constraintList(conn_, segment);
      if (!deferred.empty()) queueUtility(fmt::format("SET CONSTRAINTS {} DEFERRED", deferred));
      queueSegment(batch, segment, passLocal_);
      if (passLocal_) break;
      // Checked here, at the end of the segment, rather than at COMMIT.
      if (!deferred.empty()) queueUtility(fmt::format("SET CONSTRAINTS {} IMMEDIATE", deferred));
    }
    // The sync flushes everything queued: the server works on the pass from here on, while
    // the caller may do something else until finishPass() reads the results.
    pass_->sync();
  } catch (...) {
    pass_.reset();
    unqueue();
    rollbackQuietly();
    throw;
  }
  passBatch_ = &batch;
}

bool TargetWriter::finishPass(const RefusalHandler& onRefused) {
  const OrderedBatch& batch = *passBatch_;
  auto writeAt = [&batch](std::size_t i) -> const TargetWrite& { return *batch.writes[i].write; };
  std::optional<Failure> failure;
  std::uint64_t rows = 0;
  try {
    readResults(writeAt, failure, rows);
    pass_->exit();
    pass_.reset();
    if (!failure) failure = std::move(passLocal_);
  } catch (...) {
    pass_.reset();
    unqueue();
    rollbackQuietly();
    throw;
  }
  unqueue();
  if (!failure) {
    passBatch_ = nullptr;
    savepoint_ = true;
    pendingRows_ += rows;
    for (const Sent& cmd : sent_) {
      if (cmd.kind == Sent::Kind::Run) {
        ++counters_.multiRowStatements;
        counters_.multiRowWrites += cmd.rows;
      } else if (cmd.kind == Sent::Kind::Row) {
        ++counters_.oneRowWrites;
      }
    }
    return true;
  }
  if (tentative_ && (failure->run || failure->refused || sqlstate::refusesRow(failure->sqlstate))) {
    // What the batch assumed may be what failed: nothing of it is isolated or handed to the
    // handler; rolled back whole, it goes back to the caller to be decided on facts.
    rollbackToSavepoint();
    ++counters_.withdrawnPasses;
    passBatch_ = nullptr;
    withdrawn_ = true;
    return true;
  }
  ++counters_.retriedPasses;
  if (!failure->run && !failure->refused) {
    // Not a row's fault (the savepoint itself, a deferred check at a segment's end, a
    // statement that cannot be prepared): nothing to isolate.
    rollbackQuietly();
    throw PgError(failure->message, failure->sqlstate);
  }
  rollbackToSavepoint();
  if (failure->run) {
    for (std::size_t k = failure->index; k < failure->end; ++k) oneByOne_[k] = 1;
    return false;
  }
  const TargetWrite& w = writeAt(failure->index);
  // The transaction is usable again after the rollback to the savepoint.
  explainForeignKey(w, *failure);
  failure->refused->writeIndex = batch.writes[failure->index].source;
  if (onRefused && onRefused(*failure->refused, w) == RefusalAction::Skip) {
    skip_[failure->index] = 1;
    return false;
  }
  rollbackQuietly();
  throw RefusedRowError(std::move(*failure->refused));
}

RefusedRow TargetWriter::refusal(const TargetWrite& w, std::size_t index) const {
  RefusedRow r;
  r.sourceTable = sourceName(*w.plan);
  r.legacyKey = std::string(w.legacyKey());
  r.targetTable = w.plan->targetName();
  r.op = w.op;
  r.lsn = w.lsn;
  r.writeIndex = index;
  return r;
}

TargetWriter::Failure TargetWriter::failureFrom(const TargetWrite& w, std::size_t index,
                                                const PgResult& res) const {
  Failure f;
  f.index = index;
  f.sqlstate = std::string(res.sqlstate());
  f.schema = errorField(res, PG_DIAG_SCHEMA_NAME);
  f.table = errorField(res, PG_DIAG_TABLE_NAME);
  if (sqlstate::refusesRow(f.sqlstate)) {
    RefusedRow r = refusal(w, index);
    r.sqlstate = f.sqlstate;
    r.message = errorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (r.message.empty()) r.message = oneLine(res.errorMessage());
    r.detail = errorField(res, PG_DIAG_MESSAGE_DETAIL);
    r.constraint = errorField(res, PG_DIAG_CONSTRAINT_NAME);
    r.column = errorField(res, PG_DIAG_COLUMN_NAME);
    f.refused = std::move(r);
  } else {
    f.message = fmt::format("target database: {} failed: {}", describeWrite(w), describeError(res));
  }
  return f;
}

void TargetWriter::explainForeignKey(const TargetWrite& w, Failure& failure) {
  RefusedRow& row = *failure.refused;
  const WritePlan& plan = *w.plan;
  // Only a row that names a missing parent: a DELETE refused because children still point
  // at it names the child table instead.
  if (row.sqlstate != sqlstate::kForeignKeyViolation || row.constraint.empty() ||
      (w.op != WriteOp::Upsert && w.op != WriteOp::SetColumns) ||
      failure.schema != plan.targetSchema || failure.table != plan.targetTable)
    return;
  std::vector<std::string> columns;
  try {
    auto res = conn_.execParams(
        "SELECT a.attname FROM pg_constraint c"
        " JOIN pg_class r ON r.oid = c.conrelid"
        " JOIN pg_namespace n ON n.oid = r.relnamespace"
        " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
        " WHERE n.nspname = $1 AND r.relname = $2 AND c.conname = $3 AND c.contype = 'f'"
        " ORDER BY k.ord",
        {plan.targetSchema, plan.targetTable, row.constraint});
    for (int i = 0; i < res.rows(); ++i) columns.emplace_back(res.value(i, 0));
  } catch (const PgmorphError& e) {
    // Only an embellishment of the refusal being reported; losing it must not replace that
    // refusal with an unrelated error (a broken connection shows up on the next call).
    spdlog::debug("target: cannot look up the columns of constraint {}: {}", row.constraint,
                  e.what());
    return;
  }
  if (columns.empty()) return;
  row.column = fmt::format("{}", fmt::join(columns, ", "));
  if (columns.size() != 1) return;
  for (std::size_t i = 0; i < plan.columns.size() && i < plan.refTables.size(); ++i)
    if (plan.columns[i] == columns[0] && !plan.refTables[i].empty())
      row.parentTable = plan.refTables[i];
}

}  // namespace pgmorph
