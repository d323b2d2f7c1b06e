#include "state/journal/Crc32c.h"

#include <boost/crc.hpp>

#include <cstring>

namespace pgmorph::journal {

std::uint32_t crc32cBoost(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32cHardware(std::string_view bytes) {
  std::uint64_t crc = 0xFFFFFFFFu;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian, as the reflected CRC consumes bytes
    crc = __builtin_ia32_crc32di(crc, word);
  }
  auto c = static_cast<std::uint32_t>(crc);
  for (; n > 0; ++p, --n) c = __builtin_ia32_crc32qi(c, static_cast<unsigned char>(*p));
  return c ^ 0xFFFFFFFFu;
}

bool hasHardwareCrc32c() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#else
std::uint32_t crc32cHardware(std::string_view bytes) {
  return crc32cBoost(bytes);
}
bool hasHardwareCrc32c() {
  return false;
}
#endif

std::uint32_t crc32c(std::string_view bytes) {
  return hasHardwareCrc32c() ? crc32cHardware(bytes) : crc32cBoost(bytes);
}

}  // namespace pgmorph::journal
