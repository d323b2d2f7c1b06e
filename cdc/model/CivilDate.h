// Calendar arithmetic shared by the decoder (commit timestamps) and the sink's binary COPY
// (dates and timestamps). PostgreSQL's dates reach 5874897 AD, past std::chrono::year's 32767,
// so this is done on plain integers.
#pragma once

#include <cstdint>

namespace pgmorph {

// Days since 1970-01-01 of a proleptic Gregorian date (year 0 is 1 BC, negative years before
// it); m is 1..12, d 1..31, not checked. H. Hinnant's days_from_civil.
constexpr std::int64_t daysFromCivil(std::int64_t y, std::int64_t m, std::int64_t d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace pgmorph
