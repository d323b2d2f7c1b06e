// CatalogColumns: the column types of a set of tables, as the checks compare them
// (TypeCompatibility's ColumnType), read from either side's catalog in one query.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "app/check/TypeCompatibility.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

// "schema.table" -> column -> type. Tables that do not exist (or are not tables) are absent.
using ColumnTypes = std::map<std::string, std::map<std::string, ColumnType>>;

// `tables`: "schema.table", unquoted.
ColumnTypes readColumnTypes(PgConnection& conn, const std::vector<std::string>& tables);

// The one-dimensional text array parameter of `names` (for `= ANY ($1::text[])`).
std::string textArray(const std::vector<std::string>& names);

}  // namespace pgmorph
