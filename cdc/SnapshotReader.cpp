#include "cdc/SnapshotReader.h"

#include <fmt/format.h>
#include <strings.h>

#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

// pg_type oids of the types wal2json writes as bare JSON numbers or booleans.
constexpr int kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23,
              kOidOid = 26, kFloat4Oid = 700, kFloat8Oid = 701, kNumericOid = 1700;

SourceColumn::Render renderOf(int oid) {
  switch (oid) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      return SourceColumn::Render::Number;
    case kBoolOid:
      return SourceColumn::Render::Bool;
    case kByteaOid:
      return SourceColumn::Render::Bytea;
    default:
      return SourceColumn::Render::String;
  }
}

// wal2json sends NaN and ±Infinity of number types as JSON null (it compares prefixes,
// case-insensitively); so does the snapshot, or the two paths would disagree.
bool isSpecialNumber(std::string_view v) {
  auto prefixed = [&](std::string_view p) {
    return v.size() >= p.size() && strncasecmp(v.data(), p.data(), p.size()) == 0;
  };
  return prefixed("NaN") || prefixed("Infinity") || prefixed("-Infinity");
}

}  // namespace

SnapshotReader::SnapshotReader(const std::string& sourceConninfo, const std::string& snapshotName)
    : conn_(sourceConninfo, "source (snapshot reader)") {
  // wal2json strips two characters ("\x") from bytea's text form: only the hex format fits.
  conn_.exec("SET bytea_output = 'hex'");
  conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  // SET TRANSACTION SNAPSHOT takes no parameters: the name goes in as an escaped literal.
  try {
    conn_.exec("SET TRANSACTION SNAPSHOT " + conn_.quoteLiteral(snapshotName));
  } catch (const PgError& e) {
    // 22023 invalid_parameter_value: "invalid snapshot identifier" — the exporting
    // connection is gone (or has run another command), so is the snapshot.
    // 55000 object_not_in_prerequisite_state: "could not import the requested snapshot" —
    // the snapshot's file is still there but its exporting process has already exited
    // (the moment between the two while that process ends). Gone just the same.
    if (e.sqlstate() == sqlstate::kInvalidParameterValue ||
        e.sqlstate() == sqlstate::kObjectNotInPrerequisiteState)
      throw SnapshotGoneError(fmt::format(
          "the exported snapshot {} of the slot can no longer be imported (the connection that "
          "exported it has ended): {}",
          snapshotName, e.what()));
    throw;
  }
}

SnapshotReader::~SnapshotReader() {
  if (row_) PQfreemem(row_);
}

std::vector<SourceColumn> SnapshotReader::describe(PgConnection& source, const std::string& schema,
                                                   const std::string& table,
                                                   const std::vector<std::string>& wanted) {
  auto res = source.execParams(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid::int"
      "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
      "  JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped"
      " ORDER BY a.attnum",
      {schema, table});
  if (res.rows() == 0)
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("source table {}.{} does not exist (or has no columns): check "
                                   "the mapping's table names against the source database",
                                   schema, table));
  std::vector<SourceColumn> all;
  for (int r = 0; r < res.rows(); ++r) {
    SourceColumn c;
    c.name = std::string(res.value(r, 0));
    c.type = std::string(res.value(r, 1));
    c.render = renderOf(std::stoi(std::string(res.value(r, 2))));
    all.push_back(std::move(c));
  }
  if (wanted.empty()) return all;
  for (const auto& w : wanted) {
    bool found = false;
    for (const auto& c : all) found |= c.name == w;
    if (!found)
      throw PgmorphError(ErrorClass::Operator,
                         fmt::format("source table {}.{} has no column \"{}\", which the mapping "
                                     "uses: fix the mapping or the source schema",
                                     schema, table, w));
  }
  std::vector<SourceColumn> out;
  for (auto& c : all)
    for (const auto& w : wanted)
      if (c.name == w) {
        out.push_back(c);
        break;
      }
  return out;
}

void SnapshotReader::start(const SnapshotRead& read) {
  if (copying_) throw std::logic_error("SnapshotReader::start while a COPY is still running");
  if (read.columns.empty())
    throw std::invalid_argument("SnapshotReader::start: no columns to read for " + read.table);
  read_ = read;
  std::string sql = "COPY (SELECT ";
  for (std::size_t i = 0; i < read.columns.size(); ++i) {
    if (i) sql += ", ";
    sql += conn_.quoteIdent(read.columns[i].name);
  }
  sql += " FROM " + conn_.quoteQualified(read.schema, read.table);
  if (!read.rangeColumn.empty() && (read.from || read.to)) {
    std::string key = conn_.quoteIdent(read.rangeColumn);
    sql += " WHERE ";
    // COPY takes no parameters: the bounds (integers we computed) go in as literals.
    if (read.from)
      sql += key + " >= " + conn_.quoteLiteral(std::to_string(*read.from)) + "::bigint";
    if (read.from && read.to) sql += " AND ";
    if (read.to) sql += key + " < " + conn_.quoteLiteral(std::to_string(*read.to)) + "::bigint";
  }
  sql += ") TO STDOUT";
  auto res = conn_.exec(sql);
  if (res.status() != PGRES_COPY_OUT)
    throw PgError(
        fmt::format("source database: COPY of {}.{} did not start a copy", read.schema, read.table),
        std::string(sqlstate::kProtocolViolation));
  copying_ = true;
}

bool SnapshotReader::next(Change& out) {
  if (!copying_) return false;
  if (row_) {
    PQfreemem(row_);
    row_ = nullptr;
  }
  int n = PQgetCopyData(conn_.get(), &row_, 0);
  if (n == -1) {
    finishCopy();
    return false;
  }
  if (n < 0) {
    copying_ = false;
    conn_.throwConnectionError(fmt::format("reading {}.{}", read_.schema, read_.table));
  }
  bytesRead_ += static_cast<std::uint64_t>(n);
  std::span<const CopyTextParser::Field> fields;
  try {
    fields = parser_.parse(std::string_view(row_, static_cast<std::size_t>(n)));
  } catch (const CopyFormatError& e) {
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("source table {}.{}: {}", read_.schema, read_.table, e.what()));
  }
  if (fields.size() != read_.columns.size())
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("source table {}.{}: a COPY row has {} fields, expected {}",
                                   read_.schema, read_.table, fields.size(), read_.columns.size()));
  out.clear();
  out.kind = ChangeKind::Insert;
  out.setSchema(read_.schema);
  out.setTable(read_.table);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const SourceColumn& col = read_.columns[i];
    const auto& f = fields[i];
    if (f.isNull) {
      out.addColumn(col.name, {}, {}, ValueKind::Null);
      continue;
    }
    switch (col.render) {
      case SourceColumn::Render::Number:
        if (isSpecialNumber(f.value))
          out.addColumn(col.name, {}, {}, ValueKind::Null);
        else
          out.addColumn(col.name, {}, f.value, ValueKind::Number);
        break;
      case SourceColumn::Render::Bool:
        out.addColumn(col.name, {}, f.value == "t" ? "true" : "false", ValueKind::Bool);
        break;
      case SourceColumn::Render::Bytea: {
        std::string_view hex = f.value;
        if (hex.size() >= 2 && hex[0] == '\\' && hex[1] == 'x') hex.remove_prefix(2);
        out.addColumn(col.name, {}, hex, ValueKind::String);
        break;
      }
      case SourceColumn::Render::String:
        out.addColumn(col.name, {}, f.value, ValueKind::String);
        break;
    }
  }
  return true;
}

void SnapshotReader::finishCopy() {
  copying_ = false;
  PgResult res(PQgetResult(conn_.get()));
  // Drain: libpq wants PQgetResult until NULL before the next command.
  while (PgResult extra{PQgetResult(conn_.get())}) {
  }
  conn_.check(res, fmt::format("COPY of {}.{}", read_.schema, read_.table));
}

}  // namespace pgmorph
