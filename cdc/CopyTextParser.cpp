#include "cdc/CopyTextParser.h"

#include <cstring>

namespace pgmorph {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::span<const CopyTextParser::Field> CopyTextParser::parse(std::string_view row) {
  fields_.clear();
  if (!row.empty() && row.back() == '\n') row.remove_suffix(1);
  if (!row.empty() && row.back() == '\r')
    throw CopyFormatError("COPY row ends with a raw carriage return (expected \\r escaped)");
  // Unescaping only ever shrinks a field, so reserving the row's size up front keeps every
  // view into scratch_ valid while the rest of the row is parsed.
  scratch_.clear();
  if (scratch_.capacity() < row.size()) scratch_.reserve(row.size());

  std::size_t pos = 0;
  for (;;) {
    // Fast path: find the end of the field; only fields with a backslash need copying.
    const char* begin = row.data() + pos;
    std::size_t remaining = row.size() - pos;
    const void* tab = std::memchr(begin, '\t', remaining);
    std::size_t end =
        tab ? static_cast<std::size_t>(static_cast<const char*>(tab) - row.data()) : row.size();
    std::string_view raw = row.substr(pos, end - pos);
    if (raw.find('\n') != std::string_view::npos)
      throw CopyFormatError("COPY row holds a raw newline inside a field");
    if (raw.size() == 2 && raw[0] == '\\' && raw[1] == 'N') {
      fields_.push_back(Field{{}, true});
    } else if (raw.find('\\') == std::string_view::npos) {
      fields_.push_back(Field{raw, false});
    } else {
      // A backslash may escape a tab: the field can be longer than up to the first tab.
      std::size_t start = scratch_.size();
      end = unescapeField(row, pos, row.size());
      fields_.push_back(Field{std::string_view(scratch_).substr(start), false});
    }
    if (end >= row.size()) break;
    pos = end + 1;
  }
  return fields_;
}

std::size_t CopyTextParser::unescapeField(std::string_view raw, std::size_t pos, std::size_t end) {
  while (pos < end) {
    char c = raw[pos];
    if (c == '\t') return pos;
    if (c == '\n') throw CopyFormatError("COPY row holds a raw newline inside a field");
    if (c != '\\') {
      scratch_.push_back(c);
      ++pos;
      continue;
    }
    if (pos + 1 >= end) throw CopyFormatError("COPY field ends with a lone backslash");
    char e = raw[pos + 1];
    pos += 2;
    switch (e) {
      case 'b':
        scratch_.push_back('\b');
        break;
      case 'f':
        scratch_.push_back('\f');
        break;
      case 'n':
        scratch_.push_back('\n');
        break;
      case 'r':
        scratch_.push_back('\r');
        break;
      case 't':
        scratch_.push_back('\t');
        break;
      case 'v':
        scratch_.push_back('\v');
        break;
      case 'x': {
        // \xH or \xHH (COPY's own rule: one or two hex digits).
        int v = pos < end ? hexValue(raw[pos]) : -1;
        if (v < 0) {
          scratch_.push_back('x');
          break;
        }
        ++pos;
        int v2 = pos < end ? hexValue(raw[pos]) : -1;
        if (v2 >= 0) {
          v = v * 16 + v2;
          ++pos;
        }
        scratch_.push_back(static_cast<char>(v));
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          // \N, \NN or \NNN octal.
          int v = e - '0';
          for (int i = 0; i < 2 && pos < end && raw[pos] >= '0' && raw[pos] <= '7'; ++i, ++pos)
            v = v * 8 + (raw[pos] - '0');
          scratch_.push_back(static_cast<char>(v & 0xff));
        } else {
          scratch_.push_back(e);  // "\\" and any other escaped character stand for themselves
        }
    }
  }
  return end;
}

}  // namespace pgmorph
