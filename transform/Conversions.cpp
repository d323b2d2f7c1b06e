#include "transform/Conversions.h"

#include "cdc/json/PaddedInsituStream.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <string>

namespace pgmorph::conversions {

namespace {

// Reads exactly `n` digits at `pos` into `value`; advances `pos`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& value) {
  if (pos + n > s.size()) return false;
  value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// "+HH", "+HH:MM" or "+HH:MM:SS" (or '-') at `pos`; advances `pos`.
bool offset(std::string_view s, std::size_t& pos) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  ++pos;
  int v;
  if (!digits(s, pos, 2, v) || v > 15) return false;
  for (int part = 0; part < 2 && pos < s.size() && s[pos] == ':'; ++part)
    if (!expect(s, pos, ':') || !digits(s, pos, 2, v) || v > 59) return false;
  return true;
}

}  // namespace

TimestampShape classifyTimestamp(std::string_view s) {
  if (s == "infinity" || s == "-infinity") return TimestampShape::Special;
  std::size_t pos = 0;
  while (pos < s.size() && isDigit(s[pos])) ++pos;
  if (pos < 4) return TimestampShape::Invalid;  // year: 4 digits or more (PostgreSQL allows 5+)
  int month, day, hour, minute, second;
  if (!expect(s, pos, '-') || !digits(s, pos, 2, month) || !expect(s, pos, '-') ||
      !digits(s, pos, 2, day) || !expect(s, pos, ' ') || !digits(s, pos, 2, hour) ||
      !expect(s, pos, ':') || !digits(s, pos, 2, minute) || !expect(s, pos, ':') ||
      !digits(s, pos, 2, second))
    return TimestampShape::Invalid;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60)
    return TimestampShape::Invalid;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && isDigit(s[pos])) ++pos;
    if (pos == start || pos - start > 6) return TimestampShape::Invalid;
  }
  bool withOffset = false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    if (!offset(s, pos)) return TimestampShape::Invalid;
    withOffset = true;
  }
  // PostgreSQL writes era BC after the offset: "0044-03-15 12:00:00+00 BC".
  if (s.substr(pos) == " BC") pos += 3;
  if (pos != s.size()) return TimestampShape::Invalid;
  return withOffset ? TimestampShape::WithOffset : TimestampShape::Naive;
}

std::optional<std::string_view> booleanText(std::string_view t) {
  if (t == "1" || equalsIgnoreCase(t, "true") || equalsIgnoreCase(t, "t")) return "true";
  if (t == "0" || equalsIgnoreCase(t, "false") || equalsIgnoreCase(t, "f")) return "false";
  return std::nullopt;
}

bool isValidJson(std::string_view text, std::string* why) {
  // One buffer and one reader per thread, both keeping their capacity: validating does not
  // allocate once warmed up. The text is copied and parsed in situ because RapidJSON reads a
  // NUL-terminated buffer with SIMD and slices strings where they stand, while a
  // MemoryStream goes byte by byte and copies every string onto the reader's stack (that
  // was most of the cost of this check). The padding lets every string scan start with a
  // 16-byte load (PaddedInsituStream).
  thread_local std::string buffer;
  thread_local rapidjson::Reader reader;
  buffer.assign(text);
  buffer.append(1 + PaddedInsituStream::kPadding, '\0');
  PaddedInsituStream stream(buffer.data());
  rapidjson::BaseReaderHandler<> ignore;
  // Numbers as strings: they are only validated, never converted to doubles. Encoding is not
  // re-validated: the text came out of wal2json's JSON, already checked by the decoder, and
  // the target checks it again when it stores the jsonb.
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseInsituFlag;
  rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, ignore);
  // The reader stops at a NUL: one inside the text (outside a string) ends the parse early.
  if (ok && stream.Tell() == text.size()) return true;
  if (why) {
    if (ok)
      *why = fmt::format("a NUL character at offset {}", stream.Tell());
    else
      *why = fmt::format("{} at offset {}", rapidjson::GetParseError_En(ok.Code()), ok.Offset());
  }
  return false;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace pgmorph::conversions
