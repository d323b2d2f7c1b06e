#include "state/journal/JournalBlock.h"

#include <zstd.h>

#include <cstdint>
#include <stdexcept>

namespace pgmorph::journal {

void appendBlockRecord(std::string& raw, Lsn lsn, std::string_view payload) {
  for (int i = 0; i < 8; ++i) raw.push_back(static_cast<char>((lsn.value() >> (8 * i)) & 0xFF));
  const auto length = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
  raw.append(payload);
}

void compressBlock(std::string_view raw, std::string& out) {
  out.resize(ZSTD_compressBound(raw.size()));
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  if (ZSTD_isError(n))
    throw std::runtime_error(std::string("journal: zstd compression failed: ") +
                             ZSTD_getErrorName(n));
  out.resize(n);
}

bool BlockCursor::load(std::string_view compressed) {
  clear();
  const unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  // A block holds at most kBlockBytes plus one message (at most a frame's maximum).
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (2ull << 30))
    return false;
  raw_.resize(size);
  const std::size_t n =
      ZSTD_decompress(raw_.data(), raw_.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n != size) {
    clear();
    return false;
  }
  return true;
}

bool BlockCursor::next(Lsn& lsn, std::string_view& payload) {
  if (raw_.size() - at_ < 12) return false;
  std::uint64_t v = 0;
  std::uint32_t length = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(raw_[at_ + i]);
  for (int i = 3; i >= 0; --i)
    length = (length << 8) | static_cast<unsigned char>(raw_[at_ + 8 + i]);
  if (raw_.size() - at_ - 12 < length) return false;
  lsn = Lsn(v);
  payload = std::string_view(raw_).substr(at_ + 12, length);
  at_ += 12 + length;
  return true;
}

}  // namespace pgmorph::journal
