// TypeCompatibility: whether what a mapped column writes can become the target column's type.
// Pure; conservative on purpose: an error only where the value can never be accepted or is
// silently wrong (a UUID into a non-uuid column, `type: jsonb` into a non-JSON column, a boolean
// into a number), a warning where PostgreSQL's input function decides row by row (a plain copy
// across type categories: the values it refuses are parked), nothing where the categories agree
// or the target is text.
#pragma once

#include <optional>
#include <string>

#include "app/check/CheckReport.h"

namespace pgmorph {

// A column type as the checks compare it: the base type's name (pg_type.typname of the
// domain's base type: "uuid", "jsonb", "timestamptz", "varchar", "int4") and its category
// (pg_type.typcategory: 'S' string, 'N' numeric, 'B' boolean, 'D' date/time, 'U' user, ...).
struct ColumnType {
  std::string display;  // format_type(), for messages
  std::string base;
  char category = 0;
};

// What pgmorph writes into a target column.
enum class ValueKind {
  Uuid,         // the mapped id or a `ref:`
  Copy,         // the source value as it is (also the legacy_id)
  Timestamptz,  // type: timestamptz ("<naive value> <source zone>")
  Boolean,      // type: boolean ("true"/"false")
  Jsonb,        // type: jsonb (validated JSON text)
  Unchecked,    // map: recoding, another `type:`: the target's input decides, nothing to say
};

struct TypeVerdict {
  Severity severity;
  std::string message;
  std::string action;
};

// `source` is the source column's type for Copy (nullopt when unknown: nothing is said).
// `column` is the quoted "schema.table" and column for the suggested ALTER statements.
std::optional<TypeVerdict> judgeType(ValueKind kind, const std::optional<ColumnType>& source,
                                     const ColumnType& target, const std::string& alterTarget);

}  // namespace pgmorph
