// CopyTextEncoder: appends values to a buffer in PostgreSQL's COPY text format, for
// `COPY ... FROM STDIN` (the snapshot's bulk path). Fields are separated by a tab, rows end
// with a newline, NULL is "\N", and the four characters that would change the row's shape
// are escaped: backslash, tab, newline and carriage return. Everything else (unicode
// included) passes through byte for byte, which the server reads back unchanged in the
// default text format.
//
// Stateless; the caller owns the buffer so that a row is built in place with no
// allocation once the buffer has grown.
#pragma once

#include <string>
#include <string_view>

namespace pgmorph {

class CopyTextEncoder {
 public:
  // Appends `value` escaped (no separator).
  static void appendValue(std::string& out, std::string_view value);
  static void appendNull(std::string& out) { out.append("\\N", 2); }
  static void appendSeparator(std::string& out) { out.push_back('\t'); }
  static void endRow(std::string& out) { out.push_back('\n'); }
};

}  // namespace pgmorph
