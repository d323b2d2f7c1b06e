#include "app/check/TypeCompatibility.h"

#include <fmt/format.h>

namespace pgmorph {

namespace {

bool isJson(const ColumnType& t) {
  return t.base == "json" || t.base == "jsonb";
}
bool isText(const ColumnType& t) {
  return t.category == 'S';
}

TypeVerdict error(std::string message, std::string action) {
  return {Severity::Error, std::move(message), std::move(action)};
}

}  // namespace

std::optional<TypeVerdict> judgeType(ValueKind kind, const std::optional<ColumnType>& source,
                                     const ColumnType& target, const std::string& alterTarget) {
  switch (kind) {
    case ValueKind::Uuid:
      if (target.base == "uuid") return std::nullopt;
      return error(
          fmt::format("receives a mapped UUID (an id or a ref:), but its type is {}",
                      target.display),
          fmt::format("make it uuid ({} TYPE uuid USING ...), or map another column", alterTarget));
    case ValueKind::Jsonb:
      if (isJson(target)) return std::nullopt;
      return error(
          fmt::format("has type: jsonb in the mapping, but its type is {}", target.display),
          fmt::format("make it jsonb ({} TYPE jsonb USING ...::jsonb), or drop type: jsonb",
                      alterTarget));
    case ValueKind::Boolean:
      if (target.base == "bool" || isText(target)) return std::nullopt;
      return error(fmt::format("has type: boolean in the mapping (it writes true/false), but its "
                               "type is {}, which does not accept them",
                               target.display),
                   fmt::format("make it boolean ({} TYPE boolean USING ...), or drop type: boolean",
                               alterTarget));
    case ValueKind::Timestamptz:
      if (target.base == "timestamptz" || isText(target)) return std::nullopt;
      if (target.base == "timestamp" || target.base == "date")
        return TypeVerdict{
            Severity::Warning,
            fmt::format("has type: timestamptz in the mapping (the naive value with the source's "
                        "time zone), but its type is {}, which drops the zone: the value is "
                        "stored as the legacy wall time",
                        target.display),
            fmt::format("make it timestamptz ({} TYPE timestamptz), or drop type: timestamptz",
                        alterTarget)};
      return error(
          fmt::format("has type: timestamptz in the mapping, but its type is {}", target.display),
          fmt::format("make it timestamptz ({} TYPE timestamptz USING ...), or drop the type:",
                      alterTarget));
    case ValueKind::Copy:
      if (!source || isText(target) || source->category == target.category ||
          source->base == target.base)
        return std::nullopt;
      return TypeVerdict{
          Severity::Warning,
          fmt::format("is fed the source's {} as it is, but its type is {}: the target's input "
                      "function decides row by row, and the rows it refuses are parked",
                      source->display, target.display),
          "if the source values do not all read as that type, add a `type:` or a `map:`, or "
          "change the column's type"};
    case ValueKind::Unchecked:
      break;
  }
  return std::nullopt;
}

}  // namespace pgmorph
