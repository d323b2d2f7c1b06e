#include "state/journal/JournalFrame.h"

namespace pgmorph::journal {

namespace {

void putU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void putU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint64_t getLe(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

void appendFrame(std::string& out, FrameKind kind, Lsn lsn, std::string_view payload) {
  const std::size_t headerAt = out.size();
  putU32(out, static_cast<std::uint32_t>(kBodyHeaderBytes + payload.size()));
  putU32(out, 0);  // the CRC, filled in below once the body is in place
  const std::size_t bodyAt = out.size();
  out.push_back(static_cast<char>(kind));
  putU64(out, lsn.value());
  out.append(payload);
  const std::uint32_t crc = crc32c(std::string_view(out).substr(bodyAt));
  for (int i = 0; i < 4; ++i) out[headerAt + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
}

DecodeStatus decodeFrame(std::string_view bytes, DecodedFrame& out, std::size_t& needed,
                         bool checkCrc) {
  needed = kFrameHeaderBytes;
  if (bytes.size() < kFrameHeaderBytes) return DecodeStatus::Incomplete;
  const auto length = static_cast<std::uint32_t>(getLe(bytes.data(), 4));
  if (length < kBodyHeaderBytes || length > kMaxBodyBytes) return DecodeStatus::Corrupt;
  needed = kFrameHeaderBytes + length;
  if (bytes.size() < needed) return DecodeStatus::Incomplete;
  const auto crc = static_cast<std::uint32_t>(getLe(bytes.data() + 4, 4));
  const std::string_view body = bytes.substr(kFrameHeaderBytes, length);
  if (checkCrc && crc32c(body) != crc) return DecodeStatus::Corrupt;
  const auto kind = static_cast<unsigned char>(body[0]);
  if (kind < 1 || kind > 5) return DecodeStatus::Corrupt;
  out.kind = static_cast<FrameKind>(kind);
  out.lsn = Lsn(getLe(body.data() + 1, 8));
  out.payload = body.substr(kBodyHeaderBytes);
  out.size = needed;
  return DecodeStatus::Ok;
}

}  // namespace pgmorph::journal
