// ArrayLiteral: the text form of a one-dimensional PostgreSQL array ({"a","b",NULL}) built
// from text elements, for a parameter such as `= ANY($1::uuid[])`: the sink's multi-row
// statements carry one column of a run of writes this way, the state stores pass lists of
// ids. It owns its buffer and can be reused (clear() keeps the capacity), so building
// parameters allocates nothing once warm.
//
// Every element is double-quoted, so the empty string, the word NULL, blanks, commas and
// braces need no special case; inside the quotes a backslash or a double quote is escaped
// with a backslash (the array input rules). SQL NULL is the bare word NULL.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgmorph {

class ArrayLiteral {
 public:
  ArrayLiteral() { clear(); }
  void clear();
  // False (and nothing added) when the text holds a NUL byte, which no PostgreSQL text can
  // hold: the caller refuses that row instead of sending a cut value.
  bool add(std::string_view text);
  void addNull();

  std::size_t size() const { return count_; }
  // The finished literal, NUL-terminated; valid until the next change.
  const char* c_str();
  std::string_view view();

 private:
  void close();
  std::string text_;
  std::size_t count_ = 0;
  bool closed_ = false;
};

}  // namespace pgmorph
