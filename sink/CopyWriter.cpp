#include "sink/CopyWriter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>

#include "cdc/pg/OneLine.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"
#include "sink/CopyTextEncoder.h"
#include "sink/ServerDetail.h"

namespace pgmorph {

namespace {

std::string errorField(const PgResult& res, int code) {
  const char* s = res ? PQresultErrorField(res.get(), code) : nullptr;
  return s ? std::string(s) : std::string();
}

}  // namespace

CopyWriter::CopyWriter(PgConnection& target, const WritePlan& plan, const TargetTable& table,
                       CopyFormat format)
    : CopyWriter(target, plan, table, WriteOp::Upsert, nullptr, format) {}

CopyWriter CopyWriter::forStaging(PgConnection& target, const WritePlan& plan,
                                  const TargetTable& table, const std::string& stagingTable,
                                  WriteOp op) {
  return CopyWriter(target, plan, table, op, &stagingTable, CopyFormat{.binary = false});
}

CopyWriter::CopyWriter(PgConnection& target, const WritePlan& plan, const TargetTable& table,
                       WriteOp op, const std::string* stagingTable, CopyFormat format)
    : conn_(target), plan_(&plan), op_(op), staging_(stagingTable != nullptr) {
  // Upsert plans hold the id as columns[0] (its value slot is ignored: the id is `row`);
  // partial plans list only the columns they set.
  const std::size_t first = op == WriteOp::Upsert ? 1 : 0;
  if (op == WriteOp::Upsert && (plan.columns.empty() || plan.columns[0] != plan.idColumn))
    throw std::invalid_argument(
        fmt::format("CopyWriter: the plan of {}.{} does not start with its id column",
                    plan.targetSchema, plan.targetTable));
  const TargetColumn* id = table.find(plan.idColumn);
  if (id && id->generated)
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("target column {}.{}.{} is generated, so it cannot receive the "
                                   "mapped id: map the id to a plain column",
                                   plan.targetSchema, plan.targetTable, plan.idColumn));
  columnNames_.push_back(plan.idColumn);
  for (std::size_t i = first; i < plan.columns.size(); ++i) {
    const TargetColumn* c = table.find(plan.columns[i]);
    if (c && c->generated) {
      // The server computes it; writing it would be refused.
      spdlog::warn("target column {}.{}.{} is generated: the snapshot does not write it",
                   plan.targetSchema, plan.targetTable, plan.columns[i]);
      continue;
    }
    valueIndexes_.push_back(i);
    columnNames_.push_back(plan.columns[i]);
  }
  if (stagingTable) columnNames_.push_back(kLegacyKeyColumn);
  copySql_ = "COPY " +
             (stagingTable ? conn_.quoteIdent(*stagingTable)
                           : conn_.quoteQualified(plan.targetSchema, plan.targetTable)) +
             " (";
  for (std::size_t i = 0; i < columnNames_.size(); ++i) {
    if (i) copySql_ += ", ";
    copySql_ += conn_.quoteIdent(columnNames_[i]);
  }
  copySql_ += ") FROM STDIN";
  if (!stagingTable) chooseFormat(table, format);
  if (binary()) copySql_ += " (FORMAT binary)";
  buffer_.reserve(kChunkBytes + 4096);
}

void CopyWriter::chooseFormat(const TargetTable& table, CopyFormat format) {
  std::string_view why;
  std::vector<BinaryType> types;
  const TargetColumn* id = table.find(plan_->idColumn);
  if (!format.binary) {
    why = "text requested";
  } else if (!id || CopyBinaryEncoder::typeOf(id->type, false) != BinaryType::Uuid) {
    why = "the id column is not uuid";
  } else {
    for (std::size_t i : valueIndexes_) {
      const TargetColumn* c = table.find(plan_->columns[i]);
      auto type = c ? CopyBinaryEncoder::typeOf(c->type, format.utcTimestamps) : std::nullopt;
      if (!type) {
        why = c ? std::string_view(c->type) : std::string_view("a column the catalog lacks");
        types.clear();
        break;
      }
      types.push_back(*type);
    }
  }
  binaryTypes_ = std::move(types);
  if (binary())
    spdlog::debug("snapshot copy into {}.{}: binary COPY", plan_->targetSchema, plan_->targetTable);
  else
    spdlog::debug("snapshot copy into {}.{}: text COPY ({})", plan_->targetSchema,
                  plan_->targetTable, why);
}

void CopyWriter::begin() {
  if (copying_) throw std::logic_error("CopyWriter::begin while a COPY is running");
  auto res = conn_.exec(copySql_);
  if (res.status() != PGRES_COPY_IN)
    throw PgError(fmt::format("target database: {} did not start a copy", copySql_),
                  std::string(sqlstate::kProtocolViolation));
  copying_ = true;
  rows_ = 0;
  bytes_ = 0;
  buffer_.clear();
  if (binary()) CopyBinaryEncoder::appendHeader(buffer_);
}

void CopyWriter::write(const TargetWrite& w) {
  const WritePlan& plan = *plan_;
  if (!copying_) throw std::logic_error("CopyWriter::write without begin()");
  if (w.op != op_ || w.plan != plan_)
    throw std::invalid_argument(
        fmt::format("CopyWriter for {}.{} was given a {} write of another plan or kind",
                    plan.targetSchema, plan.targetTable, toString(w.op)));
  auto values = w.values();
  if (values.size() != plan.columns.size())
    throw std::invalid_argument(fmt::format(
        "CopyWriter for {}.{}: write of {} {} has {} values for {} columns", plan.targetSchema,
        plan.targetTable, plan.source ? plan.source->sourceTable : "", w.legacyKey(), values.size(),
        plan.columns.size()));
  if (binary()) {
    writeBinary(w);
    ++rows_;
    if (buffer_.size() >= kChunkBytes) flush();
    return;
  }
  char id[36];
  w.row.format(id);
  buffer_.append(id, sizeof id);
  for (std::size_t i : valueIndexes_) {
    CopyTextEncoder::appendSeparator(buffer_);
    const WriteValue& v = values[i];
    switch (v.state) {
      case ValueState::Present:
        CopyTextEncoder::appendValue(buffer_, w.text(v));
        break;
      case ValueState::Null:
        CopyTextEncoder::appendNull(buffer_);
        break;
      case ValueState::Absent:
        throw std::invalid_argument(fmt::format(
            "CopyWriter for {}.{}: column {} of {} {} is absent, but a snapshot row is whole",
            plan.targetSchema, plan.targetTable, plan.columns[i],
            plan.source ? plan.source->sourceTable : "", w.legacyKey()));
    }
  }
  if (staging_) {
    CopyTextEncoder::appendSeparator(buffer_);
    CopyTextEncoder::appendValue(buffer_, w.legacyKey());
  }
  CopyTextEncoder::endRow(buffer_);
  ++rows_;
  if (buffer_.size() >= kChunkBytes) flush();
}

void CopyWriter::writeBinary(const TargetWrite& w) {
  const WritePlan& plan = *plan_;
  auto values = w.values();
  const std::size_t start = buffer_.size();
  CopyBinaryEncoder::beginRow(buffer_, static_cast<std::uint16_t>(1 + valueIndexes_.size()));
  CopyBinaryEncoder::appendUuid(buffer_, w.row);
  for (std::size_t k = 0; k < valueIndexes_.size(); ++k) {
    const std::size_t i = valueIndexes_[k];
    const WriteValue& v = values[i];
    switch (v.state) {
      case ValueState::Present:
        if (!CopyBinaryEncoder::appendValue(buffer_, binaryTypes_[k], w.text(v))) {
          buffer_.resize(start);  // nothing of the row goes out
          std::string value(w.text(v).substr(0, 200));
          throw CopyRefusedError(
              fmt::format("{} {}: value '{}' for column {}.{}.{} is not a value of the "
                          "column's type that pgmorph can send in binary COPY. Fix that row on "
                          "the source (or the mapping), then run the snapshot again",
                          plan.source ? plan.source->sourceTable : "(unknown)", w.legacyKey(),
                          value, plan.targetSchema, plan.targetTable, plan.columns[i]),
              std::string(sqlstate::kInvalidTextRepresentation));
        }
        break;
      case ValueState::Null:
        CopyBinaryEncoder::appendNull(buffer_);
        break;
      case ValueState::Absent:
        buffer_.resize(start);
        throw std::invalid_argument(fmt::format(
            "CopyWriter for {}.{}: column {} of {} {} is absent, but a snapshot row is whole",
            plan.targetSchema, plan.targetTable, plan.columns[i],
            plan.source ? plan.source->sourceTable : "", w.legacyKey()));
    }
  }
}

void CopyWriter::flush() {
  if (buffer_.empty()) return;
  // Blocking mode: returns 1 once the data is queued, -1 on failure (including a server
  // that has already refused a row and left the COPY).
  if (PQputCopyData(conn_.get(), buffer_.data(), static_cast<int>(buffer_.size())) != 1)
    failFromServer("sending COPY data");
  bytes_ += buffer_.size();
  buffer_.clear();
}

std::uint64_t CopyWriter::finish() {
  if (!copying_) throw std::logic_error("CopyWriter::finish without begin()");
  if (binary()) CopyBinaryEncoder::appendTrailer(buffer_);
  flush();
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) failFromServer("ending the COPY");
  PgResult res(PQgetResult(conn_.get()));
  if (!res || res.status() != PGRES_COMMAND_OK) failFromServer("the COPY", std::move(res));
  while (PGresult* r = PQgetResult(conn_.get())) PQclear(r);
  copying_ = false;
  std::uint64_t stored = 0;
  std::string_view n = PQcmdTuples(res.get());
  std::from_chars(n.data(), n.data() + n.size(), stored);
  return stored;
}

void CopyWriter::abort() noexcept {
  if (!copying_) return;
  copying_ = false;
  buffer_.clear();
  PQputCopyEnd(conn_.get(), "pgmorph abandoned the snapshot copy");
  while (PGresult* r = PQgetResult(conn_.get())) PQclear(r);
}

void CopyWriter::failFromServer(std::string_view what, PgResult res) {
  copying_ = false;
  buffer_.clear();
  // When the server has already answered with an error, libpq holds it as the next result.
  if (!res) res = PgResult(PQgetResult(conn_.get()));
  while (PGresult* r = PQgetResult(conn_.get())) PQclear(r);
  std::string target = fmt::format("{}.{}", plan_->targetSchema, plan_->targetTable);
  std::string source =
      plan_->source ? fmt::format("{}.{}", plan_->source->sourceSchema, plan_->source->sourceTable)
                    : std::string("(unknown)");
  if (!res || res.status() == PGRES_COMMAND_OK || res.status() == PGRES_COPY_IN)
    conn_.throwConnectionError(fmt::format("{} of source table {} into {}", what, source, target));
  std::string sqlstate(res.sqlstate());
  std::string message = errorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = oneLine(res.errorMessage());
  // Names, not values: this text becomes a parked row's reason (ServerDetail.h).
  if (auto detail = detailWithoutValues(errorField(res, PG_DIAG_MESSAGE_DETAIL)); !detail.empty())
    message += ". " + detail;
  if (auto constraint = errorField(res, PG_DIAG_CONSTRAINT_NAME); !constraint.empty())
    message += fmt::format(" (constraint {})", constraint);
  if (auto column = errorField(res, PG_DIAG_COLUMN_NAME); !column.empty())
    message += fmt::format(" (column {})", column);
  std::string context = copyContextWithoutValues(errorField(res, PG_DIAG_CONTEXT));
  if (!context.empty()) message += fmt::format(" (at {})", context);
  if (sqlstate::refusesRow(sqlstate))
    throw CopyRefusedError(
        fmt::format("target refused a row of the snapshot of source table {} into {}: {}. Fix "
                    "that row on the source (or the mapping, or the target's constraint), then "
                    "run the snapshot again",
                    source, target, message),
        sqlstate);
  throw PgError(fmt::format("target database: copying source table {} into {} failed: {}", source,
                            target, message),
                sqlstate, "target");
}

}  // namespace pgmorph
