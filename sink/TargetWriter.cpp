// TargetWriter, the transaction and the checkpoint: begin(), commit() (the checkpoint moved
// in the transaction of the writes), commitKeepingCheckpoint(), rollback(). The batches
// themselves are written by applyOrdered() (TargetWriterRefusals.cpp) through the pipeline
// (TargetWriterPipeline.cpp); see TargetWriter.h for the contract.
#include "sink/TargetWriter.h"

#include <fmt/format.h>

#include <stdexcept>

#include "cdc/pg/SqlState.h"

namespace pgmorph {

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

void TargetWriter::requireSettled(const char* what) const {
  // A COMMIT sent before the results of a batch were read would commit writes whose
  // refusals nobody isolated (or nothing at all, after a failed pass).
  if (passBatch_)
    throw std::logic_error(fmt::format(
        "TargetWriter::{} called while a batch is in flight (finishOrdered first)", what));
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

void TargetWriter::commit(Lsn endLsn, std::int64_t transactions, std::int64_t sourceCommitMicros) {
  requireOpen("commit");
  requireSettled("commit");
  try {
    // Same transaction as the writes: the position and the rows commit or vanish together.
    checkpoints_.save(conn_, endLsn, slot_, transactions, sourceCommitMicros);
  } catch (...) {
    rollbackQuietly();
    throw;
  }
  commitOpen(fmt::format("up to source LSN {}", endLsn.str()));
}

void TargetWriter::commitKeepingCheckpoint(std::string_view what) {
  requireOpen("commitKeepingCheckpoint");
  requireSettled("commitKeepingCheckpoint");
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

void TargetWriter::discardPass() noexcept {
  // The server has run (or is running) the pass: a Parse in it that succeeded made a prepared
  // statement, which outlives the ROLLBACK, so its result is read rather than dropped — the
  // cache must not queue the same name again.
  PGconn* pg = conn_.get();
  for (const Sent& cmd : sent_) {
    if (!pg || PQstatus(pg) != CONNECTION_OK) break;
    PGresult* r = PQgetResult(pg);
    if (!r) break;
    ExecStatusType status = PQresultStatus(r);
    PQclear(r);
    while (PGresult* more = PQgetResult(pg)) PQclear(more);
    if (cmd.kind == Sent::Kind::Prepare && status == PGRES_COMMAND_OK)
      cmd.statement->prepared = true;
  }
  unqueue();
  pass_.reset();  // reads up to the sync and leaves pipeline mode
}

void TargetWriter::rollbackQuietly() noexcept {
  if (pass_) discardPass();
  passBatch_ = nullptr;
  open_ = false;
  pendingRows_ = 0;
  PGconn* pg = conn_.get();
  if (!pg || PQstatus(pg) != CONNECTION_OK || PQpipelineStatus(pg) != PQ_PIPELINE_OFF) return;
  auto status = PQtransactionStatus(pg);
  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) PgResult res(PQexec(pg, "ROLLBACK"));
}

}  // namespace pgmorph
