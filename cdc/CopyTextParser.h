// CopyTextParser: splits one data row of PostgreSQL's COPY text format (what
// `COPY ... TO STDOUT` sends, one row per CopyData message) into its fields, undoing the
// format's escapes: tab between fields, "\N" for NULL, and backslash escapes (\\ \t \n \r
// \b \f \v, octal \NNN and hex \xHH, and "\c" meaning c for any other character).
//
// Contract:
//  - parse() accepts the row with or without its trailing newline.
//  - The returned fields (and their values) are views into the row, or into the parser's
//    own buffer for fields that held escapes; they stay valid until the next parse() or
//    until the row's bytes change. No allocation per row once the buffer has grown.
//  - Malformed input (a lone backslash at the end of a field, a raw newline inside the row)
//    throws CopyFormatError: the server never sends it, so it means a protocol mix-up.
// Not thread-safe: one parser per reader.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgmorph {

class CopyFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CopyTextParser {
 public:
  struct Field {
    std::string_view value;  // empty for NULL
    bool isNull = false;
  };

  std::span<const Field> parse(std::string_view row);

 private:
  // Unescapes raw[pos..] up to the next unescaped tab or the end into scratch_; returns the
  // position after the field.
  std::size_t unescapeField(std::string_view raw, std::size_t start, std::size_t end);

  std::vector<Field> fields_;
  std::string scratch_;
};

}  // namespace pgmorph
