#include "sink/TargetWriter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>

#include "cdc/pg/SqlState.h"
#include "sink/PipelineScope.h"

namespace pgmorph {

namespace {

std::string field(const PgResult& res, int code) {
  const char* s = res ? PQresultErrorField(res.get(), code) : nullptr;
  return s ? std::string(s) : std::string();
}

// "primary. detail (hint)": the server's words without the "ERROR:" decoration.
std::string describe(const PgResult& res) {
  std::string out = field(res, PG_DIAG_MESSAGE_PRIMARY);
  if (out.empty()) return std::string(res.errorMessage());
  if (auto detail = field(res, PG_DIAG_MESSAGE_DETAIL); !detail.empty()) out += ". " + detail;
  if (auto hint = field(res, PG_DIAG_MESSAGE_HINT); !hint.empty()) out += " (" + hint + ")";
  return out;
}

std::string targetName(const WritePlan& plan) {
  return fmt::format("{}.{}", plan.targetSchema, plan.targetTable);
}

std::string sourceName(const WritePlan& plan) {
  return plan.source ? plan.source->sourceTable : std::string("(unknown source table)");
}

// "upsert of dispatch_user 42 into public.profiles (source LSN 0/16B3780)"
std::string describeWrite(const TargetWrite& w) {
  std::string out = fmt::format("{} of {}", toString(w.op), sourceName(*w.plan));
  if (!w.legacyKey().empty()) out += fmt::format(" {}", w.legacyKey());
  return out + fmt::format(" into {} (source LSN {})", targetName(*w.plan), w.lsn.str());
}

}  // namespace

TargetWriter::TargetWriter(PgConnection& target, const CheckpointStore& checkpoints,
                           std::string slot)
    : conn_(target),
      checkpoints_(checkpoints),
      slot_(std::move(slot)),
      session_(target.sessionToken()),
      cache_(target),
      bulk_(target) {}

void TargetWriter::requireOpen(const char* what) const {
  if (!open_)
    throw std::logic_error(
        fmt::format("TargetWriter::{} called without an open transaction", what));
}

void TargetWriter::begin() {
  if (open_) throw std::logic_error("TargetWriter::begin: a transaction is already open");
  if (auto now = conn_.sessionToken().lock(); session_.expired() || session_.lock() != now) {
    // A new session behind the same PgConnection has none of our prepared statements.
    cache_.clear();
    bulk_.clear();
    session_ = now;
  }
  auto status = PQtransactionStatus(conn_.get());
  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
    throw std::logic_error(
        "TargetWriter::begin: the target connection is already inside a transaction that the "
        "writer did not open");
  conn_.exec("BEGIN ISOLATION LEVEL READ COMMITTED");
  open_ = true;
  savepoint_ = false;
  pendingRows_ = 0;
}

std::optional<std::string> TargetWriter::bindParams(const TargetWrite& w) {
  params_.clear();
  const WritePlan& plan = *w.plan;
  char id[36];
  auto addRow = [&] {
    w.row.format(id);
    params_.add(std::string_view(id, sizeof id));
  };
  auto addValue = [&](const WriteValue& v) {
    if (v.state == ValueState::Null) {
      params_.addNull();
      return true;
    }
    return params_.add(w.text(v));
  };
  auto values = w.values();
  switch (w.op) {
    case WriteOp::Upsert:
      // The id comes from `row`, the write's one source of truth for the target id.
      addRow();
      for (std::size_t i = 1; i < values.size(); ++i)
        if (values[i].state != ValueState::Absent && !addValue(values[i])) return plan.columns[i];
      break;
    case WriteOp::Delete:
      addRow();
      break;
    case WriteOp::SetColumns:
      for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i].state != ValueState::Absent && !addValue(values[i])) return plan.columns[i];
      addRow();
      break;
    case WriteOp::Release:
      if (values.size() != plan.ownerColumns.size())
        throw std::invalid_argument(
            fmt::format("release on {} carries {} owner values for {} owner "
                        "columns",
                        targetName(plan), values.size(), plan.ownerColumns.size()));
      for (std::size_t i = 0; i < values.size(); ++i) {
        // Leaving an owner condition out would release rows of other source rows.
        if (values[i].state == ValueState::Absent)
          throw std::invalid_argument(
              fmt::format("release on {} lacks the value of owner column {}", targetName(plan),
                          plan.ownerColumns[i]));
        if (!addValue(values[i])) return plan.ownerColumns[i];
      }
      if (w.hasRow) addRow();
      break;
    case WriteOp::Truncate:
      if (!SqlBuilder::isUpsertTarget(plan))
        for (const auto& [column, value] : plan.constantOwners)
          if (!params_.add(value)) return column;
      break;
  }
  return std::nullopt;
}

bool TargetWriter::queueWrite(const TargetWrite& w, std::size_t index,
                              std::optional<Failure>& local) {
  PGconn* pg = conn_.get();
  PreparedStatement& st = cache_.lookup(w);
  if (auto column = bindParams(w)) {
    // Stop sending here: what was sent still runs, so an earlier refusal wins.
    Failure f;
    f.index = index;
    f.refused = refusal(w, index);
    f.refused->sqlstate = std::string(sqlstate::kCharacterNotInRepertoire);
    f.refused->column = *column;
    f.refused->message = fmt::format(
        "the value of column {} contains a NUL byte, which PostgreSQL text cannot hold", *column);
    local = std::move(f);
    return false;
  }
  if (!st.prepared && !st.queued) {
    spdlog::debug("target: preparing {} for {}: {}", st.name, targetName(*w.plan), st.sql);
    if (PQsendPrepare(pg, st.name.c_str(), st.sql.c_str(), 0, nullptr) != 1)
      conn_.throwConnectionError(fmt::format("queueing the statement for {}", describeWrite(w)));
    st.queued = true;
    sent_.push_back({Sent::Kind::Prepare, index, &st});
  }
  if (PQsendQueryPrepared(pg, st.name.c_str(), params_.count(), params_.values(), nullptr, nullptr,
                          0) != 1)
    conn_.throwConnectionError(fmt::format("queueing the {}", describeWrite(w)));
  sent_.push_back({Sent::Kind::Row, index, &st});
  return true;
}

RefusedRow TargetWriter::refusal(const TargetWrite& w, std::size_t index) const {
  RefusedRow r;
  r.sourceTable = sourceName(*w.plan);
  r.legacyKey = std::string(w.legacyKey());
  r.targetTable = targetName(*w.plan);
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
  f.schema = field(res, PG_DIAG_SCHEMA_NAME);
  f.table = field(res, PG_DIAG_TABLE_NAME);
  if (sqlstate::refusesRow(f.sqlstate)) {
    RefusedRow r = refusal(w, index);
    r.sqlstate = f.sqlstate;
    r.message = field(res, PG_DIAG_MESSAGE_PRIMARY);
    if (r.message.empty()) r.message = std::string(res.errorMessage());
    r.detail = field(res, PG_DIAG_MESSAGE_DETAIL);
    r.constraint = field(res, PG_DIAG_CONSTRAINT_NAME);
    r.column = field(res, PG_DIAG_COLUMN_NAME);
    f.refused = std::move(r);
  } else {
    f.message = fmt::format("target database: {} failed: {}", describeWrite(w), describe(res));
  }
  return f;
}

void TargetWriter::readResults(const WriteAt& writeAt, std::optional<Failure>& failure,
                               std::uint64_t& rows) {
  PGconn* pg = conn_.get();
  for (const Sent& cmd : sent_) {
    PgResult res(PQgetResult(pg));
    if (!res) conn_.throwConnectionError("reading the results of a pipelined batch");
    // Each command's results end with a NULL (a non-COPY command has exactly one result).
    while (PGresult* more = PQgetResult(pg)) PQclear(more);
    ExecStatusType status = res.status();
    // After the first error the server skips everything up to the sync.
    if (status == PGRES_PIPELINE_ABORTED) continue;
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (cmd.kind == Sent::Kind::Utility) {
      if (!ok && !failure) {
        Failure f;
        f.index = cmd.index;
        f.sqlstate = std::string(res.sqlstate());
        f.message =
            fmt::format("target database: {} failed: {}", utilities_[cmd.index], describe(res));
        failure = std::move(f);
      }
      continue;
    }
    if (cmd.kind == Sent::Kind::Run) {
      const bool sets = writeAt(cmd.index).op == WriteOp::SetColumns;
      std::uint64_t affected = 0, matched = 0;
      if (ok && sets) {
        // (matched, updated): an unchanged row is matched but not rewritten.
        if (res.rows() == 1 && res.columns() == 2) {
          std::string_view m = res.value(0, 0), u = res.value(0, 1);
          std::from_chars(m.data(), m.data() + m.size(), matched);
          std::from_chars(u.data(), u.data() + u.size(), affected);
        }
        rows += affected;
      } else if (ok) {
        std::string_view tuples = PQcmdTuples(res.get());
        std::from_chars(tuples.data(), tuples.data() + tuples.size(), affected);
        rows += affected;
      } else if (sqlstate::refusesRow(res.sqlstate())) {
        spdlog::debug(
            "target: a multi-row statement of {} rows was refused ({}); sending them "
            "one by one to find the refused one",
            cmd.rows, describe(res));
      } else {
        // Not a row's fault: the rows go one by one and may well land, but say so, since
        // every batch of this shape will pay for it.
        const TargetWrite& w = writeAt(cmd.index);
        spdlog::warn(
            "target: a multi-row {} of {} rows into {} failed ({}); writing them one by one",
            toString(w.op), cmd.rows, targetName(*w.plan), describe(res));
      }
      // A set-columns run that found fewer rows than it names misses a row: which one, only
      // the one-row statements can say.
      bool missing = ok && sets && matched < cmd.rows && !writeAt(cmd.index).rowOptional;
      if ((!ok || missing) && !failure) {
        Failure f;
        f.index = cmd.index;
        f.run = true;
        f.end = cmd.end;
        failure = std::move(f);
      }
      continue;
    }
    const TargetWrite& w = writeAt(cmd.index);
    if (cmd.kind == Sent::Kind::Prepare) {
      if (status == PGRES_COMMAND_OK) {
        cmd.statement->prepared = true;
      } else if (!failure) {
        // Every row of this shape would fail: a mapping that does not match the target
        // schema, not a bad row. Classified by its SQLSTATE (42xxx: Operator).
        Failure f;
        f.index = cmd.index;
        f.sqlstate = std::string(res.sqlstate());
        f.message = fmt::format(
            "target database: cannot prepare the statement for {}: {}. Statement: {}. Check the "
            "mapping against the target schema (pgmorph check).",
            describeWrite(w), describe(res), cmd.statement->sql);
        failure = std::move(f);
      }
      continue;
    }
    if (ok) {
      std::string_view tuples = PQcmdTuples(res.get());
      std::uint64_t affected = 0;
      std::from_chars(tuples.data(), tuples.data() + tuples.size(), affected);
      if (w.op == WriteOp::SetColumns && affected == 0 && !w.rowOptional && !failure) {
        Failure f;
        f.index = cmd.index;
        f.refused = refusal(w, cmd.index);
        f.refused->sqlstate = std::string(sqlstate::kNoData);
        f.refused->message =
            fmt::format("the {} row {} that {} {} completes does not exist on the target",
                        targetName(*w.plan), w.row.str(), sourceName(*w.plan), w.legacyKey());
        failure = std::move(f);
      }
      // A SetColumns with nothing to write only checked that its row exists.
      if (!(w.op == WriteOp::SetColumns && status == PGRES_TUPLES_OK)) rows += affected;
      continue;
    }
    if (!failure) failure = failureFrom(w, cmd.index, res);
  }
  PgResult sync(PQgetResult(pg));
  if (!sync || sync.status() != PGRES_PIPELINE_SYNC)
    conn_.throwConnectionError("reading the end of a pipelined batch");
}

void TargetWriter::unqueue() noexcept {
  // Statements whose Parse was queued but skipped (the pipeline aborted first) do not exist
  // on the server: they must be queued again next time.
  for (const Sent& s : sent_)
    if (s.kind == Sent::Kind::Prepare) s.statement->queued = false;
}

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

void TargetWriter::queueUtility(std::string sql) {
  if (PQsendQueryParams(conn_.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
    conn_.throwConnectionError(fmt::format("queueing {}", sql));
  utilities_.push_back(std::move(sql));
  sent_.push_back({Sent::Kind::Utility, utilities_.size() - 1});
}

void TargetWriter::queueSegment(const OrderedBatch& batch, const OrderedSegment& segment,
                                std::optional<Failure>& local) {
  auto writeAt = [&batch](std::size_t i) -> const TargetWrite& { return *batch.writes[i].write; };
  for (std::size_t i = segment.begin; i < segment.end;) {
    if (skip_[i]) {
      ++i;
      continue;
    }
    const TargetWrite& first = writeAt(i);
    if (oneByOne_[i] || !bulk_.bulkable(first)) {
      if (!queueWrite(first, i, local)) return;
      ++i;
      continue;
    }
    // The longest run from i of one shape, with no row twice (one statement cannot write a
    // row twice); writes already skipped do not break it.
    run_.clear();
    runRows_.clear();
    std::size_t end = i;
    for (; end < segment.end; ++end) {
      if (skip_[end]) continue;
      const TargetWrite& w = writeAt(end);
      if (oneByOne_[end] || !BulkStatements::sameShape(first, w)) break;
      if (w.op != WriteOp::Release && !runRows_.insert(w.row).second) break;
      run_.push_back(&w);
    }
    // A run the orderer marked `together` is one statement however short (deletes of rows
    // that reference each other through a NOT NULL, non-deferrable NO ACTION key: checked at
    // the statement's end, so only one statement can delete them).
    bool bulk = (run_.size() >= BulkStatements::kMinRun ||
                 (run_.size() >= 2 && batch.writes[i].together)) &&
                bulk_.send(run_);
    if (bulk) {
      sent_.push_back({Sent::Kind::Run, i, nullptr, end, run_.size()});
    } else {
      // Short, or a value the array cannot carry: one by one (which names a NUL byte's row).
      for (std::size_t k = i; k < end; ++k)
        if (!skip_[k] && !queueWrite(writeAt(k), k, local)) return;
    }
    i = end;
  }
}

void TargetWriter::rollbackToSavepoint() {
  // The savepoint stays: the next pass releases it and sets a new one.
  conn_.exec(fmt::format("ROLLBACK TO SAVEPOINT {}", kSavepoint));
}

void TargetWriter::applyOrdered(const OrderedBatch& batch, const RefusalHandler& onRefused) {
  requireOpen("applyOrdered");
  if (batch.writes.empty()) return;
  const std::size_t n = batch.writes.size();
  auto writeAt = [&batch](std::size_t i) -> const TargetWrite& { return *batch.writes[i].write; };
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
  // Each pass sends the whole batch in one pipeline. A pass that fails is rolled back to the
  // savepoint and tells the next what to do differently: send a failed run row by row, or
  // leave out a write the handler skipped. Every pass changes one of those, so this ends.
  for (;;) {
    sent_.clear();
    utilities_.clear();
    std::optional<Failure> failure;
    std::uint64_t rows = 0;
    try {
      PipelineScope pipeline(conn_);
      std::optional<Failure> local;
      // The savepoint of the previous batch (or pass) is released only now, in the same round
      // trip: a set-columns run that misses a row is only seen after its pass has run, and
      // must still be able to roll back to it. COMMIT releases the last one.
      if (savepoint_) queueUtility(fmt::format("RELEASE SAVEPOINT {}", kSavepoint));
      queueUtility(fmt::format("SAVEPOINT {}", kSavepoint));
      for (const OrderedSegment& segment : batch.segments) {
        std::string deferred = constraintList(conn_, segment);
        if (!deferred.empty()) queueUtility(fmt::format("SET CONSTRAINTS {} DEFERRED", deferred));
        queueSegment(batch, segment, local);
        if (local) break;
        // Checked here, at the end of the segment, rather than at COMMIT.
        if (!deferred.empty()) queueUtility(fmt::format("SET CONSTRAINTS {} IMMEDIATE", deferred));
      }
      pipeline.sync();
      readResults(writeAt, failure, rows);
      pipeline.exit();
      if (!failure) failure = std::move(local);
    } catch (...) {
      unqueue();
      rollbackQuietly();
      throw;
    }
    unqueue();
    if (!failure) {
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
      return;
    }
    ++counters_.retriedPasses;
    if (!failure->run && !failure->refused) {
      // Not a row's fault (the savepoint itself, a deferred check at a segment's end, a
      // statement that cannot be prepared): nothing to isolate.
      rollbackQuietly();
      throw PgError(failure->message, failure->sqlstate);
    }
    // Every pass begins with its SAVEPOINT and a failure is a later command: it exists.
    savepoint_ = true;
    try {
      rollbackToSavepoint();
    } catch (...) {
      rollbackQuietly();
      throw;
    }
    if (failure->run) {
      for (std::size_t k = failure->index; k < failure->end; ++k) oneByOne_[k] = 1;
      continue;
    }
    const TargetWrite& w = writeAt(failure->index);
    // The transaction is usable again after the rollback to the savepoint.
    explainForeignKey(w, *failure);
    failure->refused->writeIndex = batch.writes[failure->index].source;
    if (onRefused && onRefused(*failure->refused, w) == RefusalAction::Skip) {
      skip_[failure->index] = 1;
      continue;
    }
    rollbackQuietly();
    throw RefusedRowError(std::move(*failure->refused));
  }
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

void TargetWriter::commit(Lsn endLsn, std::int64_t transactions) {
  requireOpen("commit");
  try {
    // Same transaction as the writes: the position and the rows commit or vanish together.
    checkpoints_.save(conn_, endLsn, slot_, transactions);
  } catch (...) {
    rollbackQuietly();
    throw;
  }
  commitOpen(fmt::format("up to source LSN {}", endLsn.str()));
}

void TargetWriter::commitKeepingCheckpoint(std::string_view what) {
  requireOpen("commitKeepingCheckpoint");
  commitOpen(what);
}

void TargetWriter::commitOpen(std::string_view what) {
  try {
    PgResult res = conn_.exec("COMMIT");
    // COMMIT of a transaction that had failed answers ROLLBACK without an error: it must
    // never pass for a commit, or the caller would confirm changes the target does not have.
    if (std::string_view(PQcmdStatus(res.get())) != "COMMIT")
      throw PgError(fmt::format("target database: COMMIT {} ended in {}: the transaction had "
                                "failed and nothing was committed",
                                what, PQcmdStatus(res.get())),
                    std::string(sqlstate::kInFailedSqlTransaction));
  } catch (...) {
    rollbackQuietly();
    throw;
  }
  open_ = false;
  rowsWritten_ += pendingRows_;
  pendingRows_ = 0;
}

void TargetWriter::rollback() noexcept {
  rollbackQuietly();
}

void TargetWriter::rollbackQuietly() noexcept {
  open_ = false;
  pendingRows_ = 0;
  PGconn* pg = conn_.get();
  if (!pg || PQstatus(pg) != CONNECTION_OK || PQpipelineStatus(pg) != PQ_PIPELINE_OFF) return;
  auto status = PQtransactionStatus(pg);
  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) PgResult res(PQexec(pg, "ROLLBACK"));
}

}  // namespace pgmorph
