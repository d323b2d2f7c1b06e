#include "app/check/CatalogColumns.h"

#include "cdc/pg/ArrayLiteral.h"

namespace pgmorph {

std::string textArray(const std::vector<std::string>& names) {
  ArrayLiteral array;
  for (const auto& n : names) array.add(n);
  return std::string(array.view());
}

ColumnTypes readColumnTypes(PgConnection& conn, const std::vector<std::string>& tables) {
  // A domain is compared as its base type (what its input function is).
  auto res = conn.execParams(
      "SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
      "       bt.typname, bt.typcategory"
      "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      "  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
      "  JOIN pg_type t ON t.oid = a.atttypid"
      "  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
      " WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')",
      {textArray(tables)});
  ColumnTypes out;
  for (int r = 0; r < res.rows(); ++r) {
    std::string_view category = res.value(r, 4);
    out[std::string(res.value(r, 0))][std::string(res.value(r, 1))] =
        ColumnType{std::string(res.value(r, 2)), std::string(res.value(r, 3)),
                   category.empty() ? '\0' : category[0]};
  }
  return out;
}

}  // namespace pgmorph
