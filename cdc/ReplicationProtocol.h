// The byte layouts of the streaming replication protocol's CopyBoth messages, kept apart
// from the connection so they can be tested without a server:
//   server -> client  'w' XLogData:   dataStart, walEnd, sendTime (int64 each), payload
//                     'k' keepalive:  walEnd, sendTime (int64), replyRequested (byte)
//   client -> server  'r' standby status update: write, flush, apply, clientTime (int64),
//                     replyRequested (byte) — 34 bytes.
// Integers are big-endian; times are microseconds since 2000-01-01 00:00 UTC.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cdc/model/Lsn.h"

namespace pgmorph::replication {

// 2000-01-01 00:00:00 UTC minus 1970-01-01 00:00:00 UTC, in microseconds.
inline constexpr std::int64_t kPgEpochOffsetMicros = 946'684'800'000'000;

constexpr std::int64_t unixToPgMicros(std::int64_t unixMicros) {
  return unixMicros - kPgEpochOffsetMicros;
}
constexpr std::int64_t pgToUnixMicros(std::int64_t pgMicros) {
  return pgMicros + kPgEpochOffsetMicros;
}
// Now, in the protocol's clock (microseconds since 2000-01-01 UTC).
std::int64_t pgNowMicros();

struct XLogDataHeader {
  Lsn dataStart;
  Lsn walEnd;
  std::int64_t sendTime = 0;
};
inline constexpr std::size_t kXLogDataHeaderSize = 1 + 8 + 8 + 8;

// Parses a 'w' message. Returns false when `msg` is not a complete XLogData header.
bool parseXLogData(std::string_view msg, XLogDataHeader& header, std::string_view& payload);

struct Keepalive {
  Lsn walEnd;
  std::int64_t sendTime = 0;
  bool replyRequested = false;
};
inline constexpr std::size_t kKeepaliveSize = 1 + 8 + 8 + 1;

// Parses a 'k' message. Returns false when `msg` is not a complete keepalive.
bool parseKeepalive(std::string_view msg, Keepalive& keepalive);

inline constexpr std::size_t kStandbyStatusSize = 1 + 8 + 8 + 8 + 8 + 1;

std::array<char, kStandbyStatusSize> encodeStandbyStatus(Lsn write, Lsn flush, Lsn apply,
                                                         std::int64_t clientTimePgMicros,
                                                         bool replyRequested);

}  // namespace pgmorph::replication
