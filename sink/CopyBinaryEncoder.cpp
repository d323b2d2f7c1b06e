// CopyBinaryEncoder: which types go binary (typeOf), the row and stream framing of binary COPY
// (header, field counts, NULLs, trailer) and appendValue, which hands each value's text to its
// type's parser in CopyBinaryValues.cpp (declared in CopyBinaryValues.h).
#include "sink/CopyBinaryEncoder.h"

#include <cstdint>
#include <stdexcept>

#include "sink/CopyBinaryValues.h"
#include "transform/Conversions.h"

namespace pgmorph {

using copybinary::encodeBool;
using copybinary::encodeDate;
using copybinary::encodeNumeric;
using copybinary::encodeTimestamp;
using copybinary::parseInt;
using copybinary::put16;
using copybinary::put32;
using copybinary::put64;
using copybinary::trim;

namespace {

std::string_view withoutTypmod(std::string_view t, std::string_view base) {
  // "numeric(12,2)" -> "numeric"; "timestamp(3) with time zone" -> "timestamp with time zone"
  if (!t.starts_with(base)) return t;
  std::string_view rest = t.substr(base.size());
  if (rest.empty() || rest.front() != '(') return t;
  std::size_t close = rest.find(')');
  if (close == std::string_view::npos) return t;
  for (char c : rest.substr(1, close - 1))
    if (!((c >= '0' && c <= '9') || c == ',')) return t;
  return rest.substr(close + 1);
}

}  // namespace

bool CopyBinaryEncoder::isUtcZone(std::string_view zone) {
  return conversions::equalsIgnoreCase(zone, "UTC") ||
         conversions::equalsIgnoreCase(zone, "Etc/UTC");
}

std::optional<BinaryType> CopyBinaryEncoder::typeOf(std::string_view t, bool utcTimestamps) {
  if (t == "uuid") return BinaryType::Uuid;
  if (t == "text" || t == "json" || t == "character varying") return BinaryType::Text;
  if (t.starts_with("character varying(") && withoutTypmod(t, "character varying").empty())
    return BinaryType::Text;
  // bpchar's binary input pads and checks the length as its text input does.
  if (t == "character" || t == "bpchar" ||
      (t.starts_with("character(") && withoutTypmod(t, "character").empty()))
    return BinaryType::Text;
  if (t == "smallint") return BinaryType::Int2;
  if (t == "integer") return BinaryType::Int4;
  if (t == "bigint") return BinaryType::Int8;
  if (t == "boolean") return BinaryType::Bool;
  if (t == "numeric" || (t.starts_with("numeric(") && withoutTypmod(t, "numeric").empty()))
    return BinaryType::Numeric;
  if (t == "date") return BinaryType::Date;
  if (t == "jsonb") return BinaryType::Jsonb;
  if (!utcTimestamps || !t.starts_with("timestamp")) return std::nullopt;
  std::string_view rest = withoutTypmod(t, "timestamp");
  if (rest == t) rest = t.substr(std::string_view("timestamp").size());
  if (rest == " with time zone") return BinaryType::Timestamptz;
  if (rest == " without time zone") return BinaryType::Timestamp;
  return std::nullopt;
}

void CopyBinaryEncoder::appendHeader(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and its terminating NUL
  out.append(kSignature, sizeof kSignature);
  put32(out, 0);  // flags: no OIDs
  put32(out, 0);  // header extension length
}

void CopyBinaryEncoder::appendTrailer(std::string& out) {
  put16(out, 0xFFFF);
}

void CopyBinaryEncoder::beginRow(std::string& out, std::uint16_t fields) {
  put16(out, fields);
}

void CopyBinaryEncoder::appendNull(std::string& out) {
  put32(out, 0xFFFFFFFF);
}

void CopyBinaryEncoder::appendUuid(std::string& out, const Uuid& id) {
  put32(out, 16);
  out.append(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
}

bool CopyBinaryEncoder::appendValue(std::string& out, BinaryType type, std::string_view text) {
  switch (type) {
    case BinaryType::Text:
      if (text.size() > 0x3FFFFFFF) return false;
      put32(out, static_cast<std::uint32_t>(text.size()));
      out.append(text);
      return true;
    case BinaryType::Jsonb:
      if (text.size() >= 0x3FFFFFFF) return false;
      put32(out, static_cast<std::uint32_t>(text.size() + 1));
      out.push_back('\1');  // jsonb binary format version
      out.append(text);
      return true;
    case BinaryType::Uuid: {
      Uuid id;
      try {
        id = Uuid::parse(trim(text));
      } catch (const std::invalid_argument&) {
        return false;
      }
      appendUuid(out, id);
      return true;
    }
    case BinaryType::Int2: {
      std::int16_t v;
      if (!parseInt(text, v)) return false;
      put32(out, 2);
      put16(out, static_cast<std::uint16_t>(v));
      return true;
    }
    case BinaryType::Int4: {
      std::int32_t v;
      if (!parseInt(text, v)) return false;
      put32(out, 4);
      put32(out, static_cast<std::uint32_t>(v));
      return true;
    }
    case BinaryType::Int8: {
      std::int64_t v;
      if (!parseInt(text, v)) return false;
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(v));
      return true;
    }
    case BinaryType::Bool: {
      bool v;
      if (!encodeBool(text, v)) return false;
      put32(out, 1);
      out.push_back(v ? '\1' : '\0');
      return true;
    }
    case BinaryType::Numeric:
      return encodeNumeric(text, out);
    case BinaryType::Date: {
      std::int32_t v;
      if (!encodeDate(text, v)) return false;
      put32(out, 4);
      put32(out, static_cast<std::uint32_t>(v));
      return true;
    }
    case BinaryType::Timestamp:
    case BinaryType::Timestamptz: {
      std::int64_t v;
      if (!encodeTimestamp(text, type == BinaryType::Timestamptz, v)) return false;
      put32(out, 8);
      put64(out, static_cast<std::uint64_t>(v));
      return true;
    }
  }
  return false;
}

}  // namespace pgmorph
