// Big-endian integer helpers for the streaming replication protocol, whose integers are
// all in network byte order. They work byte by byte on unaligned buffers (message
// payloads are never aligned), so they are correct on any host and compile to a single
// bswap on x86.
#pragma once

#include <cstdint>

namespace pgmorph {

inline void putBigEndian64(char* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

inline std::uint64_t getBigEndian64(const char* in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline void putBigEndian32(char* out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

inline std::uint32_t getBigEndian32(const char* in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

}  // namespace pgmorph
