// Parsing of PostgreSQL's ISO timestamptz text ("2025-01-01 10:00:00.123456+00") into
// microseconds since the Unix epoch. wal2json renders commit times with the session's
// DateStyle and TimeZone; every pgmorph session is pinned to ISO and UTC, so this is the
// only form accepted (anything else is reported, never guessed at).
#pragma once

#include <cstdint>
#include <string_view>

namespace pgmorph {

// Accepts "YYYY-MM-DD HH:MM:SS[.f{1,6}][(+|-)HH[:MM[:SS]]]" (years of 4 or more digits;
// no offset means UTC). Returns false for anything else, including BC dates and
// 'infinity'.
bool parseIsoTimestamptz(std::string_view text, std::int64_t& unixMicros) noexcept;

}  // namespace pgmorph
