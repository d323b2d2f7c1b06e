#include "cdc/Wal2JsonFastScanner.h"

#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cdc/Wal2JsonHandler.h"

namespace pgmorph {

namespace {

// wal2json nests three deep (message, tuple, column); deeper is some unknown field's value,
// left to RapidJSON.
constexpr int kMaxDepth = 8;
// RapidJSON refuses an integer part of more than about 308 digits (it still computes a
// double with kParseNumbersAsStringsFlag); such numbers are left to it so that both paths
// accept the same messages.
constexpr std::size_t kMaxIntegerDigits = 300;

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// A byte that ends the plain part of a string: the closing quote, a backslash (an escape)
// or a control character (invalid JSON).
bool stopsString(unsigned char c) {
  return c == '"' || c == '\\' || c < 0x20;
}

class Scanner {
 public:
  Scanner(char* text, std::size_t size, Wal2JsonHandler& handler)
      : p_(text), end_(text + size), handler_(handler) {}

  bool run() { return value(0) && p_ == end_; }

 private:
  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"': {
        const char* s;
        std::size_t n;
        return string(s, n) && handler_.String(s, static_cast<rapidjson::SizeType>(n), false);
      }
      case 't':
        return literal("true", 4) && handler_.Bool(true);
      case 'f':
        return literal("false", 5) && handler_.Bool(false);
      case 'n':
        return literal("null", 4) && handler_.Null();
      default:
        return number();
    }
  }

  bool object(int depth) {
    if (depth == kMaxDepth || !handler_.StartObject()) return false;
    ++p_;
    rapidjson::SizeType members = 0;
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return handler_.EndObject(0);
    }
    for (;;) {
      const char* key;
      std::size_t n;
      if (p_ == end_ || *p_ != '"' || !string(key, n) ||
          !handler_.Key(key, static_cast<rapidjson::SizeType>(n), false))
        return false;
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      if (!value(depth + 1)) return false;
      ++members;
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return false;
      ++p_;
      return handler_.EndObject(members);
    }
  }

  bool array(int depth) {
    if (depth == kMaxDepth || !handler_.StartArray()) return false;
    ++p_;
    rapidjson::SizeType elements = 0;
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return handler_.EndArray(0);
    }
    for (;;) {
      if (!value(depth + 1)) return false;
      ++elements;
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != ']') return false;
      ++p_;
      return handler_.EndArray(elements);
    }
  }

  // At the opening quote. On success, [s, s + n) is the string's text and p_ is past the
  // closing quote. Escapes are undone in place, as RapidJSON's in-situ mode does (the
  // text only gets shorter); \u escapes (wal2json writes them only for control
  // characters) are left to RapidJSON.
  bool string(const char*& s, std::size_t& n) {
    char* const start = ++p_;
    char* q = stop(start);
    if (q == end_) return false;
    if (*q == '"') {
      s = start;
      n = static_cast<std::size_t>(q - start);
      p_ = q + 1;
      return true;
    }
    char* w = q;  // where the unescaped text continues
    for (;;) {
      if (q == end_ || static_cast<unsigned char>(*q) < 0x20) return false;
      if (*q == '"') break;
      // A backslash.
      if (end_ - q < 2) return false;
      char c;
      switch (q[1]) {
        case '"':
        case '\\':
        case '/':
          c = q[1];
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        default:
          return false;  // \u or an invalid escape
      }
      *w++ = c;
      q += 2;
      char* run = q;
      q = stop(run);
      std::memmove(w, run, static_cast<std::size_t>(q - run));
      w += q - run;
    }
    s = start;
    n = static_cast<std::size_t>(w - start);
    p_ = q + 1;
    return true;
  }

  // The first byte from q on that ends a plain run of string text (see stopsString), or end_.
  char* stop(char* q) const {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control = _mm_set1_epi8(0x1F);
    for (; end_ - q >= 16; q += 16) {
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      // c <= 0x1F (unsigned) <=> max(c, 0x1F) == 0x1F
      const __m128i hit =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(c, quote), _mm_cmpeq_epi8(c, backslash)),
                       _mm_cmpeq_epi8(_mm_max_epu8(c, control), control));
      if (const int mask = _mm_movemask_epi8(hit))
        return q + __builtin_ctz(static_cast<unsigned>(mask));
    }
#endif
    while (q != end_ && !stopsString(static_cast<unsigned char>(*q))) ++q;
    return q;
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)? — no exponent.
  bool number() {
    const char* start = p_;
    char* q = p_;
    if (*q == '-') ++q;
    const char* integer = q;
    if (q == end_ || !isDigit(*q)) return false;
    if (*q == '0') {
      ++q;
    } else {
      while (q != end_ && isDigit(*q)) ++q;
    }
    if (static_cast<std::size_t>(q - integer) > kMaxIntegerDigits) return false;
    if (q != end_ && *q == '.') {
      const char* fraction = ++q;
      while (q != end_ && isDigit(*q)) ++q;
      if (q == fraction) return false;
    }
    if (q != end_ && (*q == 'e' || *q == 'E' || isDigit(*q))) return false;
    p_ = q;
    return handler_.RawNumber(start, static_cast<rapidjson::SizeType>(q - start), false);
  }

  char* p_;
  char* const end_;
  Wal2JsonHandler& handler_;
};

}  // namespace

bool scanWal2JsonFast(char* text, std::size_t size, Wal2JsonHandler& handler) {
  return Scanner(text, size, handler).run();
}

}  // namespace pgmorph
