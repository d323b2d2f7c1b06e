// CopyBinaryEncoder: appends rows to a buffer in PostgreSQL's binary COPY format, for
// `COPY ... FROM STDIN (FORMAT binary)` (the snapshot's bulk path). The server then skips the
// text parsing of every value (about half of its CPU for wide tables).
//
// The values are the texts the text path would send (TargetWrite values); each is parsed here
// into the type's binary form. Only types whose text pgmorph can convert exactly are binary
// (typeOf); a table with any other column stays on text COPY. What the server still does on
// binary input, it does as for text: typmods (numeric(p,s) rounding and overflow, varchar(n)
// length, timestamp(n) precision), date and timestamp range checks, JSON parsing for jsonb,
// encoding checks for text.
//
// A value that does not parse (appendValue returns false) is never guessed at: the caller
// refuses the row. Stateless; the caller owns the buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cdc/model/Uuid.h"

namespace pgmorph {

enum class BinaryType {
  Uuid,
  Text,  // text, varchar(n), character(n), json: the bytes as they are
  Int2,
  Int4,
  Int8,
  Bool,
  Numeric,
  Date,
  Timestamp,    // without time zone: a zone in the text is ignored, as the server does
  Timestamptz,  // naive texts are UTC (every pgmorph session runs with TimeZone=UTC)
  Jsonb,
};

class CopyBinaryEncoder {
 public:
  // The binary type for a format_type() text, or nullopt (stay on text). Timestamp types only
  // when `utcTimestamps`: the transform writes naive legacy timestamps as "<value> <zone>",
  // which only a time zone database converts unless the zone is UTC.
  static std::optional<BinaryType> typeOf(std::string_view formatType, bool utcTimestamps);
  // True for the zone names that mean UTC exactly ("UTC", "Etc/UTC", any case).
  static bool isUtcZone(std::string_view zone);

  static void appendHeader(std::string& out);
  static void appendTrailer(std::string& out);
  static void beginRow(std::string& out, std::uint16_t fields);
  static void appendNull(std::string& out);
  static void appendUuid(std::string& out, const Uuid& id);
  // Appends the field (length and bytes); false, with `out` unchanged, when `text` is not a
  // value of `type` this encoder can convert exactly.
  static bool appendValue(std::string& out, BinaryType type, std::string_view text);
};

}  // namespace pgmorph
