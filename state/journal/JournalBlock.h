// Compressed blocks (JournalOptions::compress): a transaction's messages, packed as
// [u64 lsn][u32 length][payload] records, zstd-compressed (level 1) into one Block frame per
// ~64 KB of messages (and one at the Commit for the rest). Per-message compression does not
// pay on wal2json messages (x1.7 at 80 MB/s); a block of a transaction's messages does (x5.5
// for 4 KB, x20 and more for 64 KB; figures in Journal.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cdc/model/Lsn.h"

namespace pgmorph::journal {

inline constexpr std::size_t kBlockBytes = 64 << 10;

void appendBlockRecord(std::string& raw, Lsn lsn, std::string_view payload);
// Compresses `raw` into `out` (replacing its contents).
void compressBlock(std::string_view raw, std::string& out);

// Decompresses one Block frame's payload and walks its records.
class BlockCursor {
 public:
  // False when the bytes are not a valid block (corruption the frame CRC did not catch).
  bool load(std::string_view compressed);
  bool active() const { return at_ < raw_.size(); }
  // The next record; false when the records are malformed.
  bool next(Lsn& lsn, std::string_view& payload);
  void clear() {
    raw_.clear();
    at_ = 0;
  }

 private:
  std::string raw_;
  std::size_t at_ = 0;
};

}  // namespace pgmorph::journal
