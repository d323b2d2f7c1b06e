#include "state/SourceShapeStore.h"

#include <fmt/format.h>

#include <stdexcept>

#include "state/NameList.h"

namespace pgmorph {

namespace {

struct Encoded {
  std::string names, types, toastable;
};

Encoded encode(const TableShape& shape) {
  Encoded e;
  std::vector<std::string> names, types;
  for (const auto& c : shape.columns) {
    names.push_back(c.name);
    types.push_back(c.type);
    e.toastable += c.toastable ? 't' : 'f';
  }
  e.names = joinNames(names);
  e.types = joinNames(types);
  return e;
}

}  // namespace

SourceShapeStore::SourceShapeStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string SourceShapeStore::table(PgConnection& target) const {
  return target.quoteQualified(schema_, "source_columns");
}

TableShape SourceShapeStore::decode(std::string_view names, std::string_view types,
                                    std::string_view toastable) {
  std::vector<std::string> n = splitNames(names), t = splitNames(types);
  if (n.size() != t.size() || n.size() != toastable.size())
    throw std::runtime_error(fmt::format(
        "a stored source table shape is inconsistent ({} names, {} types, {} storage flags)",
        n.size(), t.size(), toastable.size()));
  TableShape shape;
  for (std::size_t i = 0; i < n.size(); ++i)
    shape.columns.push_back({std::move(n[i]), std::move(t[i]), toastable[i] == 't'});
  return shape;
}

void SourceShapeStore::ensureSchema(PgConnection& target) const {
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", target.quoteIdent(schema_)));
  target.exec(
      fmt::format("CREATE TABLE IF NOT EXISTS {} ("
                  " pipeline text NOT NULL,"
                  " table_schema text NOT NULL,"
                  " table_name text NOT NULL,"
                  " column_names text NOT NULL,"  // joined by U+001F, in attribute order
                  " column_types text NOT NULL,"  // format_type(), joined the same way
                  " toastable text NOT NULL,"     // 't'/'f' per column
                  " previous_names text, previous_types text, previous_toastable text,"
                  " accepted_at timestamptz NOT NULL DEFAULT now(),"
                  " PRIMARY KEY (pipeline, table_schema, table_name))",
                  table(target)));
}

std::map<std::string, AcceptedShape> SourceShapeStore::load(PgConnection& target) const {
  std::map<std::string, AcceptedShape> out;
  auto exists =
      target.execParams("SELECT to_regclass(quote_ident($1) || '.source_columns')", {schema_});
  if (exists.isNull(0, 0)) return out;
  auto res = target.execParams(
      fmt::format("SELECT table_schema, table_name, column_names, column_types, toastable,"
                  " previous_names IS NOT NULL, coalesce(previous_names, ''),"
                  " coalesce(previous_types, ''), coalesce(previous_toastable, '')"
                  " FROM {} WHERE pipeline = $1",
                  table(target)),
      {pipeline_});
  for (int r = 0; r < res.rows(); ++r) {
    AcceptedShape a;
    a.shape = decode(res.value(r, 2), res.value(r, 3), res.value(r, 4));
    if (res.value(r, 5) == "t")
      a.previous = decode(res.value(r, 6), res.value(r, 7), res.value(r, 8));
    out[fmt::format("{}.{}", res.value(r, 0), res.value(r, 1))] = std::move(a);
  }
  return out;
}

void SourceShapeStore::save(PgConnection& target, const std::string& schema,
                            const std::string& tableName, const TableShape& shape,
                            const std::optional<TableShape>& previous) const {
  Encoded now = encode(shape);
  std::optional<Encoded> before;
  if (previous) before = encode(*previous);
  auto opt = [&](std::string Encoded::*field) -> std::optional<std::string_view> {
    if (!before) return std::nullopt;
    return std::string_view((*before).*field);
  };
  target.execParams(
      fmt::format("INSERT INTO {} (pipeline, table_schema, table_name, column_names, column_types,"
                  " toastable, previous_names, previous_types, previous_toastable)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                  " ON CONFLICT (pipeline, table_schema, table_name) DO UPDATE SET"
                  " column_names = EXCLUDED.column_names, column_types = EXCLUDED.column_types,"
                  " toastable = EXCLUDED.toastable, previous_names = EXCLUDED.previous_names,"
                  " previous_types = EXCLUDED.previous_types,"
                  " previous_toastable = EXCLUDED.previous_toastable, accepted_at = now()",
                  table(target)),
      {pipeline_, schema, tableName, now.names, now.types, now.toastable, opt(&Encoded::names),
       opt(&Encoded::types), opt(&Encoded::toastable)});
}

}  // namespace pgmorph
