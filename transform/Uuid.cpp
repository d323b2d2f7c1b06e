#include "transform/Uuid.h"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>

#include <cstring>
#include <stdexcept>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace pgmorph {

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Uuid Uuid::parse(std::string_view text) {
  Uuid u;
  std::size_t pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (pos < text.size() && text[pos] == '-' && (pos == 8 || pos == 13 || pos == 18 || pos == 23))
      ++pos;
    if (pos + 2 > text.size())
      throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
    int hi = hexValue(text[pos]), lo = hexValue(text[pos + 1]);
    if (hi < 0 || lo < 0) throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
    u.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    pos += 2;
  }
  if (pos != text.size() || text.size() != 36)
    throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
  return u;
}

void Uuid::format(char* out) const {
#ifdef __SSE2__
  // All 32 hex digits at once (SSE2 is part of every x86-64 CPU): ids are formatted on the
  // hot path, once per id and per reference of every row.
  // Read as two 8-byte halves, the way an id is usually just written (returned in two
  // registers): one 16-byte read of two fresh 8-byte stores stalls until they drain.
  const __m128i b =
      _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes.data())),
                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes.data() + 8)));
  const __m128i low = _mm_set1_epi8(0x0F);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low);
  const __m128i lo = _mm_and_si128(b, low);
  auto hex = [](__m128i nibbles) {  // 0-9 -> '0'-'9', 10-15 -> 'a'-'f'
    const __m128i letter = _mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9));
    const __m128i digit = _mm_add_epi8(nibbles, _mm_set1_epi8('0'));
    return _mm_add_epi8(digit, _mm_and_si128(letter, _mm_set1_epi8('a' - '0' - 10)));
  };
  const __m128i h = hex(hi), l = hex(lo);
  char digits[32];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(digits), _mm_unpacklo_epi8(h, l));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(digits + 16), _mm_unpackhi_epi8(h, l));
  std::memcpy(out, digits, 8);
  out[8] = '-';
  std::memcpy(out + 9, digits + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, digits + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, digits + 16, 4);
  out[23] = '-';
  std::memcpy(out + 24, digits + 20, 12);
#else
  static constexpr char kDigits[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kDigits[bytes[i] >> 4];
    out[o++] = kDigits[bytes[i] & 0xF];
  }
#endif
}

std::string Uuid::str() const {
  std::string s(36, '\0');
  format(s.data());
  return s;
}

bool Uuid::isNil() const {
  for (auto b : bytes)
    if (b) return false;
  return true;
}

std::size_t UuidHash::operator()(const Uuid& u) const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, u.bytes.data(), 8);
  std::memcpy(&b, u.bytes.data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ULL));
}

Uuid uuidV5(const Uuid& ns, std::string_view name) {
  boost::uuids::uuid bns;
  std::memcpy(bns.data, ns.bytes.data(), 16);
  boost::uuids::name_generator_sha1 gen(bns);
  boost::uuids::uuid id = gen(name.data(), name.size());
  Uuid out;
  std::memcpy(out.bytes.data(), id.data, 16);
  return out;
}

}  // namespace pgmorph
