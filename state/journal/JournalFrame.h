// The journal's frame codec: [u32 body length][u32 crc32c of body][body], body = [u8 kind]
// [u64 lsn][payload], all integers little-endian whatever the host. Owns nothing but the
// byte layout and the checksum; the segment files and their readers are SegmentFile.h.
//
// Why CRC32C per frame: a crash can leave the tail of the last segment half written (a torn
// write, or zeroes after the page cache was lost); the length and the CRC together tell a
// complete frame from such a tail, so recovery cuts exactly what was never whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cdc/model/Lsn.h"
#include "state/journal/Crc32c.h"

namespace pgmorph::journal {

// Block: compressed Message records (JournalBlock.h), only when the writer compresses.
enum class FrameKind : std::uint8_t { Begin = 1, Message = 2, Commit = 3, Position = 4, Block = 5 };

inline constexpr std::size_t kFrameHeaderBytes = 8;  // length + crc
inline constexpr std::size_t kBodyHeaderBytes = 9;   // kind + lsn
// A wal2json message holds at most one row (a 1 GB value at most in PostgreSQL): anything
// longer is a corrupt length, not a frame.
inline constexpr std::uint32_t kMaxBodyBytes = (1u << 30) + 4096;

// Appends one encoded frame to `out`.
void appendFrame(std::string& out, FrameKind kind, Lsn lsn, std::string_view payload);

struct DecodedFrame {
  FrameKind kind{};
  Lsn lsn;
  std::string_view payload;  // a view into the decoded bytes
  std::size_t size = 0;      // the whole frame, header included
};

enum class DecodeStatus {
  Ok,
  Incomplete,  // fewer bytes than the frame needs (header, or the length it announces)
  Corrupt,     // impossible length, unknown kind or CRC mismatch
};

// Decodes the frame at the start of `bytes`. `needed` is set to the frame's whole size when
// the header could be read (so a caller knows how much more to read on Incomplete).
// `checkCrc` false only for bytes whose CRC was checked already (a reader's second pass).
DecodeStatus decodeFrame(std::string_view bytes, DecodedFrame& out, std::size_t& needed,
                         bool checkCrc = true);

}  // namespace pgmorph::journal
