#include "cdc/IsoTimestamp.h"

#include "cdc/model/CivilDate.h"

namespace pgmorph {

namespace {

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, int n, std::int64_t& out) {
  if (pos + static_cast<std::size_t>(n) > s.size()) return false;
  std::int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  out = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

bool parseIsoTimestamptz(std::string_view s, std::int64_t& unixMicros) noexcept {
  std::size_t pos = 0;
  // The year has at least 4 digits and grows past 9999.
  std::size_t yearEnd = 0;
  while (yearEnd < s.size() && s[yearEnd] >= '0' && s[yearEnd] <= '9') ++yearEnd;
  if (yearEnd < 4 || yearEnd > 6) return false;
  std::int64_t year, month, day, hour, minute, second;
  if (!digits(s, pos, static_cast<int>(yearEnd), year) || !expect(s, pos, '-') ||
      !digits(s, pos, 2, month) || !expect(s, pos, '-') || !digits(s, pos, 2, day) ||
      !expect(s, pos, ' ') || !digits(s, pos, 2, hour) || !expect(s, pos, ':') ||
      !digits(s, pos, 2, minute) || !expect(s, pos, ':') || !digits(s, pos, 2, second))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60)
    return false;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (++n > 6) return false;
      micros = micros * 10 + (s[pos++] - '0');
    }
    if (n == 0) return false;
    for (; n < 6; ++n) micros *= 10;
  }
  std::int64_t offsetSeconds = 0;
  if (pos < s.size()) {
    char sign = s[pos++];
    if (sign != '+' && sign != '-') return false;
    std::int64_t oh = 0, om = 0, os = 0;
    if (!digits(s, pos, 2, oh)) return false;
    if (pos < s.size() && !(expect(s, pos, ':') && digits(s, pos, 2, om))) return false;
    if (pos < s.size() && !(expect(s, pos, ':') && digits(s, pos, 2, os))) return false;
    if (pos != s.size()) return false;
    offsetSeconds = (oh * 3600 + om * 60 + os) * (sign == '-' ? -1 : 1);
  }
  std::int64_t seconds =
      daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  unixMicros = seconds * 1'000'000 + micros;
  return true;
}

}  // namespace pgmorph
