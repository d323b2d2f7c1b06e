// CopyBinaryValues: the per-type half of CopyBinaryEncoder — parsing a value's text (as the
// text path would send it) into the binary form of its type, exactly or not at all (false).
// Private to CopyBinaryEncoder.cpp (type selection, row and stream framing, the dispatch in
// appendValue) and CopyBinaryValues.cpp (dates, timestamps, booleans, numerics); the small
// helpers both use are inline here. See CopyBinaryEncoder.h for what is binary and why.
#pragma once

#include <boost/endian/conversion.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgmorph::copybinary {

inline bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The server trims surrounding white space from these types' input.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

inline void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

inline void put32(std::string& out, std::uint32_t v) {
  unsigned char b[4];
  boost::endian::store_big_u32(b, v);
  out.append(reinterpret_cast<const char*>(b), 4);
}

inline void put64(std::string& out, std::uint64_t v) {
  unsigned char b[8];
  boost::endian::store_big_u64(b, v);
  out.append(reinterpret_cast<const char*>(b), 8);
}

template <typename Int>
inline bool parseInt(std::string_view s, Int& v) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

// "YYYY-MM-DD" with an optional " BC", or ±infinity: days since 2000-01-01.
bool encodeDate(std::string_view text, std::int32_t& out);
// "YYYY-MM-DD HH:MM:SS[.ffffff]" with an optional offset or " <zone>" that means UTC, and an
// optional " BC": µs since 2000-01-01 00:00 UTC (the zone ignored unless `withZone`).
bool encodeTimestamp(std::string_view text, bool withZone, std::int64_t& out);
// The spellings boolin accepts (t, yes, on, 1, unique prefixes, any case).
bool encodeBool(std::string_view text, bool& out);
// Plain decimal text ("-12.340", "NaN", "Infinity"): appends the whole field (length and
// numeric's binary form).
bool encodeNumeric(std::string_view text, std::string& out);

}  // namespace pgmorph::copybinary
