// Conversions: the text-level value conversions of `type:` in a mapping (pure functions,
// no allocation on success). ColumnConverter applies them to a column; they live apart so
// that each rule is tested on its own.
//
// - timestamptz: the legacy value is a naive timestamp in source.timezone. It is validated
//   as a date-time and then written as "<value> <zone>", which PostgreSQL parses as that
//   wall time in that zone (e.g. "2019-01-01 05:00:00 America/New_York" = 10:00 UTC).
//   A value that already carries an offset ("...+02") and the special values infinity and
//   -infinity are unambiguous and pass through unchanged.
// - boolean: 0/1, true/false, t/f (any case) -> "false"/"true"; anything else is an error.
// - jsonb: must parse as exactly one JSON value (RapidJSON, validation only, no DOM); the
//   text passes through unchanged for the target to store.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgmorph::conversions {

enum class TimestampShape {
  Invalid,     // not a date-time
  Naive,       // "YYYY-MM-DD HH:MM:SS[.ffffff][ BC]": append the source zone
  WithOffset,  // naive shape followed by "+HH[:MM[:SS]]" or "-HH...": pass through
  Special,     // infinity, -infinity: pass through
};

// Checks the shape and the field ranges (month 1-12, day 1-31, hour 0-24, minute 0-59,
// second 0-60, 1 to 6 fraction digits, a year of 4 or more digits).
TimestampShape classifyTimestamp(std::string_view text);

// "true"/"false" for a value the boolean conversion accepts, std::nullopt otherwise.
std::optional<std::string_view> booleanText(std::string_view text);

// True when `text` is one JSON value. On false, `why` (when given) says what and where.
bool isValidJson(std::string_view text, std::string* why);

// ASCII case-insensitive equality (SQL keywords and literals such as "true", "Infinity").
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace pgmorph::conversions
