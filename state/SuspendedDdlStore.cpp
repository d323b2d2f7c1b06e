#include "state/SuspendedDdlStore.h"

#include <fmt/format.h>

#include <stdexcept>

#include "state/NameList.h"

namespace pgmorph {

namespace {

DdlKind parseKind(std::string_view s) {
  if (s == "foreign_key") return DdlKind::ForeignKey;
  if (s == "constraint") return DdlKind::Constraint;
  if (s == "index") return DdlKind::Index;
  throw std::runtime_error(fmt::format("unknown suspended definition kind '{}'", s));
}

}  // namespace

std::string_view toString(DdlKind kind) {
  switch (kind) {
    case DdlKind::ForeignKey:
      return "foreign_key";
    case DdlKind::Constraint:
      return "constraint";
    case DdlKind::Index:
      return "index";
  }
  return "?";
}

SuspendedDdlStore::SuspendedDdlStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string SuspendedDdlStore::table(PgConnection& target) const {
  return target.quoteQualified(schema_, "suspended_ddl");
}

void SuspendedDdlStore::ensureSchema(PgConnection& target) const {
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", target.quoteIdent(schema_)));
  target.exec(
      fmt::format("CREATE TABLE IF NOT EXISTS {} ("
                  " pipeline text NOT NULL,"
                  " table_schema text NOT NULL,"
                  " table_name text NOT NULL,"
                  " name text NOT NULL,"
                  " kind text NOT NULL CHECK (kind IN ('foreign_key', 'constraint', 'index')),"
                  " definition text NOT NULL,"
                  " index_definition text,"
                  " referenced_table text,"
                  " columns text[],"
                  " referenced_columns text[],"
                  " is_deferrable boolean NOT NULL DEFAULT false,"
                  " initially_deferred boolean NOT NULL DEFAULT false,"
                  " state text NOT NULL CHECK (state IN ('suspended', 'restored')),"
                  " position bigserial,"
                  " suspended_at timestamptz NOT NULL DEFAULT now(),"
                  " restored_at timestamptz,"
                  " rebuild_seconds double precision,"
                  " PRIMARY KEY (pipeline, table_schema, table_name, name))",
                  table(target)));
}

std::vector<SuspendedDdl> SuspendedDdlStore::load(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT table_schema, table_name, name, kind, definition, referenced_table,"
                  " array_to_string(columns, chr(31)), array_to_string(referenced_columns, "
                  "chr(31)), is_deferrable, initially_deferred, state = 'restored',"
                  " coalesce(index_definition, '')"
                  " FROM {} WHERE pipeline = $1 ORDER BY position",
                  table(target)),
      {pipeline_});
  std::vector<SuspendedDdl> out;
  for (int r = 0; r < res.rows(); ++r) {
    SuspendedDdl d;
    d.schema = std::string(res.value(r, 0));
    d.table = std::string(res.value(r, 1));
    d.name = std::string(res.value(r, 2));
    d.kind = parseKind(res.value(r, 3));
    d.definition = std::string(res.value(r, 4));
    d.referencedTable = std::string(res.value(r, 5));
    d.columns = splitNames(res.value(r, 6));
    d.referencedColumns = splitNames(res.value(r, 7));
    d.deferrable = res.value(r, 8) == "t";
    d.initiallyDeferred = res.value(r, 9) == "t";
    d.restored = res.value(r, 10) == "t";
    d.indexDefinition = std::string(res.value(r, 11));
    out.push_back(std::move(d));
  }
  return out;
}

bool SuspendedDdlStore::anySuspended(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT EXISTS (SELECT 1 FROM {} WHERE pipeline = $1 AND state = 'suspended')",
                  table(target)),
      {pipeline_});
  return res.value(0, 0) == "t";
}

void SuspendedDdlStore::recordSuspended(PgConnection& target, const SuspendedDdl& d) const {
  bool fk = d.kind == DdlKind::ForeignKey;
  std::string cols = joinNames(d.columns), refCols = joinNames(d.referencedColumns);
  target.execParams(
      fmt::format("INSERT INTO {} (pipeline, table_schema, table_name, name, kind, definition,"
                  " referenced_table, columns, referenced_columns, is_deferrable,"
                  " initially_deferred, index_definition, state)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, string_to_array($8, chr(31)),"
                  " string_to_array($9, chr(31)), $10::boolean, $11::boolean, $12, 'suspended')"
                  " ON CONFLICT (pipeline, table_schema, table_name, name) DO UPDATE"
                  " SET state = 'suspended', suspended_at = now(), restored_at = NULL,"
                  " rebuild_seconds = NULL",
                  table(target)),
      {pipeline_, d.schema, d.table, d.name, toString(d.kind), d.definition,
       fk ? std::optional<std::string_view>(d.referencedTable) : std::nullopt,
       fk ? std::optional<std::string_view>(cols) : std::nullopt,
       fk ? std::optional<std::string_view>(refCols) : std::nullopt,
       d.deferrable ? "true" : "false", d.initiallyDeferred ? "true" : "false",
       d.kind == DdlKind::Constraint ? std::optional<std::string_view>(d.indexDefinition)
                                     : std::nullopt});
}

void SuspendedDdlStore::markRestored(PgConnection& target, const SuspendedDdl& d,
                                     double seconds) const {
  std::string s = fmt::format("{:.3f}", seconds);
  auto res = target.execParams(
      fmt::format("UPDATE {} SET state = 'restored', restored_at = clock_timestamp(),"
                  " rebuild_seconds = $5::double precision"
                  " WHERE pipeline = $1 AND table_schema = $2 AND table_name = $3 AND name = $4"
                  " RETURNING 1",
                  table(target)),
      {pipeline_, d.schema, d.table, d.name, s});
  if (res.rows() != 1)
    throw std::logic_error(fmt::format("no suspended definition {} on {} recorded for pipeline {}",
                                       d.name, d.qualifiedTable(), pipeline_));
}

void SuspendedDdlStore::clearRestored(PgConnection& target) const {
  target.execParams(
      fmt::format("DELETE FROM {} WHERE pipeline = $1 AND state = 'restored'", table(target)),
      {pipeline_});
}

}  // namespace pgmorph
