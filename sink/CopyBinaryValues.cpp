// CopyBinaryEncoder's per-type parsers (declared in CopyBinaryValues.h): dates, timestamps
// with and without time zone, booleans and numerics, from the text the text path would send to
// the type's binary COPY form. The calendar arithmetic is the server's (proleptic Gregorian,
// 1 BC is year 0, 2000-01-01 the epoch); anything it cannot convert exactly returns false.
#include "sink/CopyBinaryValues.h"

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "cdc/model/CivilDate.h"
#include "sink/CopyBinaryEncoder.h"
#include "transform/Conversions.h"

namespace pgmorph::copybinary {

namespace {
constexpr std::int64_t kUsecPerDay = 86400LL * 1000000LL;
// 2000-01-01, the epoch of PostgreSQL's binary dates and timestamps, in days since 1970-01-01.
constexpr std::int64_t kPgEpochDays = 10957;

// Fixed-width unsigned digits at s[pos..pos+n).
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& v) {
  if (pos + n > s.size()) return false;
  v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// "YYYY-MM-DD" (4 or more year digits) at the start of s; `used` is its length. Days since
// 2000-01-01 before any " BC".
bool parseDate(std::string_view s, std::size_t& used, std::int64_t& year, int& month, int& day) {
  std::size_t y = 0;
  year = 0;
  while (y < s.size() && s[y] >= '0' && s[y] <= '9' && y < 9) year = year * 10 + (s[y++] - '0');
  if (y < 4 || y >= s.size() || s[y] != '-') return false;
  if (!digits(s, y + 1, 2, month) || y + 3 >= s.size() || s[y + 3] != '-' ||
      !digits(s, y + 4, 2, day))
    return false;
  used = y + 6;
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= kDays[month - 1];
}

// Removes a trailing " BC" and says whether it was there.
bool takeBc(std::string_view& s) {
  if (s.size() >= 3 && conversions::equalsIgnoreCase(s.substr(s.size() - 3), " bc")) {
    s.remove_suffix(3);
    return true;
  }
  return false;
}

std::int64_t epochDays(std::int64_t year, int month, int day, bool bc) {
  // 1 BC is year 0 of the proleptic calendar.
  const std::int64_t y = bc ? 1 - year : year;
  if (!bc || leap(y) || month != 2 || day != 29) return daysFromCivil(y, month, day) - kPgEpochDays;
  return std::numeric_limits<std::int64_t>::min();  // 29 February of a common BC year
}

// "+HH[:MM[:SS]]" / "-HH..." in seconds east of UTC.
bool parseOffset(std::string_view s, std::int64_t& seconds) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  int h, m = 0, sec = 0;
  if (!digits(s, 1, 2, h)) return false;
  std::size_t pos = 3;
  if (pos < s.size()) {
    if (s[pos] != ':' || !digits(s, pos + 1, 2, m)) return false;
    pos += 3;
  }
  if (pos < s.size()) {
    if (s[pos] != ':' || !digits(s, pos + 1, 2, sec)) return false;
    pos += 3;
  }
  if (pos != s.size() || h > 15 || m > 59 || sec > 59) return false;
  seconds = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60 + sec);
  return true;
}

}  // namespace

bool encodeDate(std::string_view text, std::int32_t& out) {
  std::string_view s = trim(text);
  if (conversions::equalsIgnoreCase(s, "infinity"))
    return out = std::numeric_limits<std::int32_t>::max(), true;
  if (conversions::equalsIgnoreCase(s, "-infinity"))
    return out = std::numeric_limits<std::int32_t>::min(), true;
  const bool bc = takeBc(s);
  std::size_t used;
  std::int64_t year;
  int month, day;
  if (!parseDate(s, used, year, month, day) || used != s.size()) return false;
  if (!bc && !leap(year) && month == 2 && day == 29) return false;
  const std::int64_t days = epochDays(year, month, day, bc);
  if (days == std::numeric_limits<std::int64_t>::min()) return false;
  // Beyond int32 the server would refuse it anyway; let it, with its own message.
  if (days > std::numeric_limits<std::int32_t>::max() - 1 ||
      days < std::numeric_limits<std::int32_t>::min() + 1)
    return false;
  out = static_cast<std::int32_t>(days);
  return true;
}

// "YYYY-MM-DD HH:MM:SS[.ffffff]" with an optional offset ("+05:30") or " <zone>" that means
// UTC, and an optional " BC" after either; µs since 2000-01-01 00:00 UTC.
bool encodeTimestamp(std::string_view text, bool withZone, std::int64_t& out) {
  std::string_view s = trim(text);
  if (conversions::equalsIgnoreCase(s, "infinity"))
    return out = std::numeric_limits<std::int64_t>::max(), true;
  if (conversions::equalsIgnoreCase(s, "-infinity"))
    return out = std::numeric_limits<std::int64_t>::min(), true;
  bool bc = takeBc(s);
  std::size_t used;
  std::int64_t year;
  int month, day;
  if (!parseDate(s, used, year, month, day) || used >= s.size() || s[used] != ' ') return false;
  int h, mi, sec;
  std::size_t p = used + 1;
  if (!digits(s, p, 2, h) || p + 2 >= s.size() || s[p + 2] != ':' || !digits(s, p + 3, 2, mi) ||
      p + 5 >= s.size() || s[p + 5] != ':' || !digits(s, p + 6, 2, sec))
    return false;
  p += 8;
  std::int64_t frac = 0;
  if (p < s.size() && s[p] == '.') {
    std::size_t n = 0;
    ++p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (++n > 6) return false;  // the server would round: not exact here
      frac = frac * 10 + (s[p++] - '0');
    }
    if (n == 0) return false;
    for (; n < 6; ++n) frac *= 10;
  }
  std::string_view zone = s.substr(p);
  if (!bc && zone.size() >= 3 && conversions::equalsIgnoreCase(zone.substr(0, 3), " bc") &&
      (zone.size() == 3 || zone[3] == ' ')) {
    bc = true;  // "... BC UTC": a naive BC value with the source zone appended
    zone.remove_prefix(3);
  }
  std::int64_t offset = 0;
  if (!zone.empty()) {
    if (zone.front() == ' ') {
      zone.remove_prefix(1);
      if (!CopyBinaryEncoder::isUtcZone(zone) && !parseOffset(zone, offset)) return false;
    } else if (!parseOffset(zone, offset)) {
      return false;
    }
  }
  if (!withZone) offset = 0;  // timestamp without time zone ignores the zone it is given
  if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi > 0 || sec > 0 || frac > 0))) return false;
  if (!bc && !leap(year) && month == 2 && day == 29) return false;
  const std::int64_t days = epochDays(year, month, day, bc);
  if (days == std::numeric_limits<std::int64_t>::min()) return false;
  // Far outside the server's range (it refuses beyond 294276 AD): keep clear of overflow.
  if (days > 110000000 || days < -110000000) return false;
  out = days * kUsecPerDay + ((h * 60LL + mi) * 60LL + sec - offset) * 1000000LL + frac;
  return true;
}

bool encodeBool(std::string_view text, bool& out) {
  std::string_view s = trim(text);
  if (s.empty()) return false;
  auto prefixOf = [&](std::string_view word, std::size_t min) {
    return s.size() >= min && s.size() <= word.size() &&
           conversions::equalsIgnoreCase(s, word.substr(0, s.size()));
  };
  if (prefixOf("true", 1) || prefixOf("yes", 1) || prefixOf("on", 2) || s == "1")
    return out = true, true;
  if (prefixOf("false", 1) || prefixOf("no", 1) || prefixOf("off", 2) || s == "0")
    return out = false, true;
  return false;
}

// Plain decimal text ("-12.340", "NaN", "Infinity") into numeric's binary form.
bool encodeNumeric(std::string_view text, std::string& out) {
  constexpr std::uint16_t kPos = 0x0000, kNeg = 0x4000, kNaN = 0xC000, kPinf = 0xD000,
                          kNinf = 0xF000;
  std::string_view s = trim(text);
  auto special = [&](std::uint16_t sign) {
    put32(out, 8);
    put16(out, 0);
    put16(out, 0);
    put16(out, sign);
    put16(out, 0);
    return true;
  };
  if (conversions::equalsIgnoreCase(s, "nan")) return special(kNaN);
  if (conversions::equalsIgnoreCase(s, "infinity") || conversions::equalsIgnoreCase(s, "+infinity"))
    return special(kPinf);
  if (conversions::equalsIgnoreCase(s, "-infinity")) return special(kNinf);
  std::uint16_t sign = kPos;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    if (s.front() == '-') sign = kNeg;
    s.remove_prefix(1);
  }
  std::size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() && fraction.empty()) return false;
  for (std::string_view part : {whole, fraction})
    for (char c : part)
      if (c < '0' || c > '9') return false;
  while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
  if (fraction.size() > 0x3FFF || whole.size() > 4 * 32767) return false;
  // Base-10000 digits aligned on the decimal point: the whole part padded on the left, the
  // fraction on the right.
  const std::size_t wholeGroups = (whole.size() + 3) / 4;
  const std::size_t fracGroups = (fraction.size() + 3) / 4;
  std::vector<std::int16_t> groups;
  groups.reserve(wholeGroups + fracGroups);
  std::size_t lead = wholeGroups * 4 - whole.size();
  for (std::size_t g = 0; g < wholeGroups; ++g) {
    int v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::size_t i = g * 4 + k;
      v = v * 10 + (i < lead ? 0 : whole[i - lead] - '0');
    }
    groups.push_back(static_cast<std::int16_t>(v));
  }
  for (std::size_t g = 0; g < fracGroups; ++g) {
    int v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::size_t i = g * 4 + k;
      v = v * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    }
    groups.push_back(static_cast<std::int16_t>(v));
  }
  int weight = static_cast<int>(wholeGroups) - 1;
  std::size_t first = 0, last = groups.size();
  while (first < last && groups[first] == 0) {
    ++first;
    --weight;
  }
  while (last > first && groups[last - 1] == 0) --last;
  if (first == last) {
    weight = 0;
    sign = kPos;
  }
  const std::size_t n = last - first;
  put32(out, static_cast<std::uint32_t>(8 + 2 * n));
  put16(out, static_cast<std::uint16_t>(n));
  put16(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(weight)));
  put16(out, sign);
  put16(out, static_cast<std::uint16_t>(fraction.size()));
  for (std::size_t i = first; i < last; ++i) put16(out, static_cast<std::uint16_t>(groups[i]));
  return true;
}

}  // namespace pgmorph::copybinary
