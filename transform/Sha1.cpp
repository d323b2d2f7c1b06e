#include "transform/Sha1.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define PGMORPH_SHA1_X86 1
#endif

namespace pgmorph {

namespace {

using CompressFn = void (*)(std::uint32_t* state, const std::uint8_t* block);

inline std::uint32_t rotl(std::uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}
inline std::uint32_t loadBigEndian(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void compressPortable(std::uint32_t* h, const std::uint8_t* block) {
  std::uint32_t w[80];
  for (int i = 0; i < 16; ++i) w[i] = loadBigEndian(block + 4 * i);
  for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  auto round = [&](std::uint32_t f, std::uint32_t k, std::uint32_t wi) {
    std::uint32_t t = rotl(a, 5) + f + e + k + wi;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  };
  for (int i = 0; i < 20; ++i) round((b & c) | (~b & d), 0x5A827999u, w[i]);
  for (int i = 20; i < 40; ++i) round(b ^ c ^ d, 0x6ED9EBA1u, w[i]);
  for (int i = 40; i < 60; ++i) round((b & c) | (b & d) | (c & d), 0x8F1BBCDCu, w[i]);
  for (int i = 60; i < 80; ++i) round(b ^ c ^ d, 0xCA62C1D6u, w[i]);

  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

#ifdef PGMORPH_SHA1_X86
// One block with the SHA extensions (the standard sequence from Intel's SHA extensions
// paper): four rounds per sha1rnds4, message schedule by sha1msg1/sha1msg2.
__attribute__((target("sha,sse4.1,ssse3"))) void compressShaNi(std::uint32_t* h,
                                                               const std::uint8_t* block) {
  const __m128i mask = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)), 0x1B);
  __m128i e0 = _mm_set_epi32(static_cast<int>(h[4]), 0, 0, 0);
  const __m128i abcdSave = abcd, e0Save = e0;
  __m128i e1;
  __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block)), mask);
  __m128i m1 =
      _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16)), mask);
  __m128i m2 =
      _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 32)), mask);
  __m128i m3 =
      _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 48)), mask);

  // Rounds 0-15.
  e0 = _mm_add_epi32(e0, m0);
  e1 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);

  e1 = _mm_sha1nexte_epu32(e1, m1);
  e0 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
  m0 = _mm_sha1msg1_epu32(m0, m1);

  e0 = _mm_sha1nexte_epu32(e0, m2);
  e1 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
  m1 = _mm_sha1msg1_epu32(m1, m2);
  m0 = _mm_xor_si128(m0, m2);

  e1 = _mm_sha1nexte_epu32(e1, m3);
  e0 = abcd;
  m0 = _mm_sha1msg2_epu32(m0, m3);
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
  m2 = _mm_sha1msg1_epu32(m2, m3);
  m1 = _mm_xor_si128(m1, m3);

  // Rounds 16-67: the same four steps, the message registers rotating. `F` is the round
  // function of those four rounds (0 to 3, one per 20 rounds).
#define PGMORPH_SHA1_STEP(EA, EB, MA, MB, MC, MD, F) \
  EA = _mm_sha1nexte_epu32(EA, MA);                  \
  EB = abcd;                                         \
  MB = _mm_sha1msg2_epu32(MB, MA);                   \
  abcd = _mm_sha1rnds4_epu32(abcd, EA, F);           \
  MD = _mm_sha1msg1_epu32(MD, MA);                   \
  MC = _mm_xor_si128(MC, MA);

  PGMORPH_SHA1_STEP(e0, e1, m0, m1, m2, m3, 0)  // 16-19
  PGMORPH_SHA1_STEP(e1, e0, m1, m2, m3, m0, 1)  // 20-23
  PGMORPH_SHA1_STEP(e0, e1, m2, m3, m0, m1, 1)  // 24-27
  PGMORPH_SHA1_STEP(e1, e0, m3, m0, m1, m2, 1)  // 28-31
  PGMORPH_SHA1_STEP(e0, e1, m0, m1, m2, m3, 1)  // 32-35
  PGMORPH_SHA1_STEP(e1, e0, m1, m2, m3, m0, 1)  // 36-39
  PGMORPH_SHA1_STEP(e0, e1, m2, m3, m0, m1, 2)  // 40-43
  PGMORPH_SHA1_STEP(e1, e0, m3, m0, m1, m2, 2)  // 44-47
  PGMORPH_SHA1_STEP(e0, e1, m0, m1, m2, m3, 2)  // 48-51
  PGMORPH_SHA1_STEP(e1, e0, m1, m2, m3, m0, 2)  // 52-55
  PGMORPH_SHA1_STEP(e0, e1, m2, m3, m0, m1, 2)  // 56-59
  PGMORPH_SHA1_STEP(e1, e0, m3, m0, m1, m2, 3)  // 60-63
  PGMORPH_SHA1_STEP(e0, e1, m0, m1, m2, m3, 3)  // 64-67
#undef PGMORPH_SHA1_STEP

  // Rounds 68-79: the schedule runs out.
  e1 = _mm_sha1nexte_epu32(e1, m1);
  e0 = abcd;
  m2 = _mm_sha1msg2_epu32(m2, m1);
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);
  m3 = _mm_xor_si128(m3, m1);

  e0 = _mm_sha1nexte_epu32(e0, m2);
  e1 = abcd;
  m3 = _mm_sha1msg2_epu32(m3, m2);
  abcd = _mm_sha1rnds4_epu32(abcd, e0, 3);

  e1 = _mm_sha1nexte_epu32(e1, m3);
  e0 = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, e1, 3);

  e0 = _mm_sha1nexte_epu32(e0, e0Save);
  abcd = _mm_add_epi32(abcd, abcdSave);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_shuffle_epi32(abcd, 0x1B));
  h[4] = static_cast<std::uint32_t>(_mm_extract_epi32(e0, 3));
}

bool cpuHasShaExtensions() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = (b >> 29) & 1;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
  return sha && sse41 && ssse3;
}
#endif

std::atomic<CompressFn>& compressFn() {
#ifdef PGMORPH_SHA1_X86
  static std::atomic<CompressFn> fn{cpuHasShaExtensions() ? compressShaNi : compressPortable};
#else
  static std::atomic<CompressFn> fn{compressPortable};
#endif
  return fn;
}

}  // namespace

Sha1::Implementation Sha1::implementation() {
#ifdef PGMORPH_SHA1_X86
  if (compressFn().load(std::memory_order_relaxed) == compressShaNi)
    return Implementation::ShaExtensions;
#endif
  return Implementation::Portable;
}

Sha1::Implementation Sha1::useImplementation(Implementation wanted) {
  CompressFn fn = compressPortable;
#ifdef PGMORPH_SHA1_X86
  if (wanted == Implementation::ShaExtensions && cpuHasShaExtensions()) fn = compressShaNi;
#endif
  compressFn().store(fn, std::memory_order_relaxed);
  return implementation();
}

void Sha1::compress(const std::uint8_t* block) {
  compressFn().load(std::memory_order_relaxed)(h_, block);
}

void Sha1::update(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::size_t pending = length_ % 64;
  length_ += size;
  if (pending) {
    std::size_t take = std::min<std::size_t>(64 - pending, size);
    std::memcpy(buffer_ + pending, p, take);
    p += take;
    size -= take;
    if (pending + take < 64) return;
    compress(buffer_);
  }
  for (; size >= 64; p += 64, size -= 64) compress(p);
  if (size) std::memcpy(buffer_, p, size);
}

std::array<std::uint32_t, 5> Sha1::finishWords() {
  std::uint64_t bits = length_ * 8;
  std::size_t pending = length_ % 64;
  buffer_[pending++] = 0x80;
  if (pending > 56) {
    std::memset(buffer_ + pending, 0, 64 - pending);
    compress(buffer_);
    pending = 0;
  }
  std::memset(buffer_ + pending, 0, 56 - pending);
  for (int i = 0; i < 8; ++i) buffer_[56 + i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
  compress(buffer_);
  return {h_[0], h_[1], h_[2], h_[3], h_[4]};
}

Sha1::Digest Sha1::finish() {
  const std::array<std::uint32_t, 5> h = finishWords();
  Digest out;
  for (int i = 0; i < 5; ++i) {
    out[4 * i] = static_cast<std::uint8_t>(h[i] >> 24);
    out[4 * i + 1] = static_cast<std::uint8_t>(h[i] >> 16);
    out[4 * i + 2] = static_cast<std::uint8_t>(h[i] >> 8);
    out[4 * i + 3] = static_cast<std::uint8_t>(h[i]);
  }
  return out;
}

}  // namespace pgmorph
