// TargetWriter, the libpq pipeline: binding a write's values, queueing writes (a Parse first
// for a new shape), multi-row runs and utility statements, reading their results back in
// order into the first Failure of the batch, and forgetting the Parses a failed batch never
// ran (unqueue). What a pass sends, and what it does with a failure, is applyOrdered()'s
// (TargetWriterRefusals.cpp).
#include "sink/TargetWriter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>

#include "cdc/pg/SqlState.h"
#include "sink/TargetWriterMessages.h"

namespace pgmorph {

using writermessages::describeError;
using writermessages::describeWrite;
using writermessages::sourceName;

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
                        plan.targetName(), values.size(), plan.ownerColumns.size()));
      for (std::size_t i = 0; i < values.size(); ++i) {
        // Leaving an owner condition out would release rows of other source rows.
        if (values[i].state == ValueState::Absent)
          throw std::invalid_argument(
              fmt::format("release on {} lacks the value of owner column {}", plan.targetName(),
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
    spdlog::debug("target: preparing {} for {}: {}", st.name, w.plan->targetName(), st.sql);
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
        f.message = fmt::format("target database: {} failed: {}", utilities_[cmd.index],
                                describeError(res));
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
            cmd.rows, describeError(res));
      } else {
        // Not a row's fault: the rows go one by one and may well land, but say so, since
        // every batch of this shape will pay for it.
        const TargetWrite& w = writeAt(cmd.index);
        spdlog::warn(
            "target: a multi-row {} of {} rows into {} failed ({}); writing them one by one",
            toString(w.op), cmd.rows, w.plan->targetName(), describeError(res));
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
            describeWrite(w), describeError(res), cmd.statement->sql);
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
                        w.plan->targetName(), w.row.str(), sourceName(*w.plan), w.legacyKey());
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

}  // namespace pgmorph
