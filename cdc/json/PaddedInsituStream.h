// PaddedInsituStream: RapidJSON's in-situ stream over a buffer that the caller keeps readable
// for kPadding bytes past the terminating NUL. It owns nothing; the buffer outlives the parse.
//
// Why it exists: RapidJSON scans strings 16 bytes at a time, but only from a 16-byte boundary
// on, because it cannot know whether the bytes after the terminating NUL may be read. Up to
// that boundary it goes byte by byte, comparing each byte three times. wal2json's strings are
// short (column names, codes, timestamps), so most of them end before any boundary. String
// parsing was the largest single cost of decode + transform (27%, perf); with every load
// starting where the string starts, decoding takes 8-10% fewer instructions (callgrind,
// tests/bench/PipelineBench.cpp).
//
// The scan is plugged in as an explicit specialization of GenericReader's own hook for
// stream types it has no scanner for (ScanCopyUnescapedString), so everything else, escapes,
// validation and error reporting, stays RapidJSON's. Whitespace skipping is specialized the
// same way.
#pragma once

#include "cdc/json/RapidJsonSetup.h"  // RapidJSON with pgmorph's settings

#include <cstddef>

#if !defined(__SSE2__)
#error "PaddedInsituStream needs SSE2 (every x86-64 CPU has it)"
#endif
#include <emmintrin.h>

namespace pgmorph {

class PaddedInsituStream : public rapidjson::InsituStringStream {
 public:
  // Bytes past the terminating NUL that must be readable (their values do not matter).
  static constexpr std::size_t kPadding = 16;
  explicit PaddedInsituStream(char* text) : rapidjson::InsituStringStream(text) {}
};

}  // namespace pgmorph

namespace rapidjson {

// Lets the reader keep the stream in registers, as it does for InsituStringStream.
template <>
struct StreamTraits<pgmorph::PaddedInsituStream> {
  enum { copyOptimization = 1 };
};

// wal2json writes no whitespace between tokens, and the reader skips whitespace several times
// per member: one comparison for the usual case (no whitespace character is above ' ').
template <>
inline void SkipWhitespace(pgmorph::PaddedInsituStream& is) {
  char* p = is.src_;
  while (static_cast<unsigned char>(*p) <= ' ' &&
         (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    ++p;
  is.src_ = p;
}

// Advances to the first '"', '\\' or control character (the NUL terminator is one), moving
// the text down to the write position when earlier escapes have shortened it. A load starts
// at most 15 bytes before a stop character, so it never reaches past the padding.
template <>
template <>
inline void GenericReader<UTF8<>, UTF8<>, CrtAllocator>::ScanCopyUnescapedString(
    pgmorph::PaddedInsituStream& is, pgmorph::PaddedInsituStream& /*os: the same stream*/) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i below20 = _mm_set1_epi8(0x19);
  auto stops = [&](__m128i s) {
    __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(s, below20), below20);  // s < 0x20
    __m128i special = _mm_or_si128(_mm_cmpeq_epi8(s, quote), _mm_cmpeq_epi8(s, backslash));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(special, control)));
  };
  char* p = is.src_;
  char* q = is.dst_;
  if (p == q) {  // nothing unescaped yet: only find the end
    for (;; p += 16) {
      if (unsigned r = stops(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))) {
        p += __builtin_ctz(r);
        break;
      }
    }
    is.src_ = is.dst_ = p;
    return;
  }
  for (;; p += 16, q += 16) {
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (unsigned r = stops(s)) {
      for (const char* end = p + __builtin_ctz(r); p != end;) *q++ = *p++;
      break;
    }
    // q < p: the store may overwrite bytes of this block (already loaded), never the next.
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), s);
  }
  is.src_ = p;
  is.dst_ = q;
}

}  // namespace rapidjson
