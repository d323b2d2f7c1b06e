// ParamBuffer: the text parameters of one statement, laid out the way libpq wants them
// (NUL-terminated strings, a null pointer for SQL NULL). Reused write after write, so the
// steady state allocates nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgmorph {

class ParamBuffer {
 public:
  void clear();
  // False when the text holds a NUL byte: libpq would cut the value there and PostgreSQL
  // text cannot hold it anyway, so the caller refuses the row instead of truncating it.
  bool add(std::string_view text);
  void addNull();

  int count() const { return static_cast<int>(offsets_.size()); }
  // Valid until the next add()/clear().
  const char* const* values();

 private:
  static constexpr std::size_t kNull = static_cast<std::size_t>(-1);
  std::string text_;
  std::vector<std::size_t> offsets_;
  std::vector<const char*> pointers_;
};

}  // namespace pgmorph
