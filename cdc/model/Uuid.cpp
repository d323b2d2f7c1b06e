#include "cdc/model/Uuid.h"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>

#include <array>
#include <cstring>
#include <stdexcept>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace pgmorph {

namespace {
// Hex digit values, 0xFF for anything else: a parse ORs the 32 values it looks up and checks
// once at the end, instead of branching on every character.
constexpr std::array<std::uint8_t, 256> kHexValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xFF);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<std::uint8_t>(c);
  for (int c = 0; c < 6; ++c) {
    t['a' + c] = static_cast<std::uint8_t>(10 + c);
    t['A' + c] = static_cast<std::uint8_t>(10 + c);
  }
  return t;
}();
// Where each byte's two digits start in the 8-4-4-4-12 form.
constexpr std::array<std::uint8_t, 16> kDigitsAt = {0,  2,  4,  6,  9,  11, 14, 16,
                                                    19, 21, 24, 26, 28, 30, 32, 34};
}  // namespace

// The sink parses every id and reference the transformer formatted (binary COPY, parent
// checks, parking groups): this ran per character with a branch each, and was 16% of
// pgmorph's CPU in the snapshot (perf).
Uuid Uuid::parse(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
    throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
  Uuid u;
  unsigned bad = 0;
  for (int i = 0; i < 16; ++i) {
    unsigned hi = kHexValue[static_cast<unsigned char>(text[kDigitsAt[i]])];
    unsigned lo = kHexValue[static_cast<unsigned char>(text[kDigitsAt[i] + 1])];
    bad |= hi | lo;
    u.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  if (bad & 0xF0) throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
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
