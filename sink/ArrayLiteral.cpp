#include "sink/ArrayLiteral.h"

#include <cstring>

namespace pgmorph {

void ArrayLiteral::clear() {
  text_.assign(1, '{');
  count_ = 0;
  closed_ = false;
}

bool ArrayLiteral::add(std::string_view text) {
  if (!text.empty() && std::memchr(text.data(), 0, text.size()) != nullptr) return false;
  if (closed_) text_.pop_back();
  closed_ = false;
  if (count_++) text_.push_back(',');
  text_.push_back('"');
  // Copy the stretches between characters that need a backslash in one go.
  std::size_t start = 0;
  for (;;) {
    std::size_t special = text.find_first_of("\"\\", start);
    if (special == std::string_view::npos) break;
    text_.append(text.data() + start, special - start);
    text_.push_back('\\');
    text_.push_back(text[special]);
    start = special + 1;
  }
  text_.append(text.data() + start, text.size() - start);
  text_.push_back('"');
  return true;
}

void ArrayLiteral::addNull() {
  if (closed_) text_.pop_back();
  closed_ = false;
  if (count_++) text_.push_back(',');
  text_.append("NULL");
}

void ArrayLiteral::close() {
  if (closed_) return;
  text_.push_back('}');
  closed_ = true;
}

const char* ArrayLiteral::c_str() {
  close();
  return text_.c_str();
}

std::string_view ArrayLiteral::view() {
  close();
  return text_;
}

}  // namespace pgmorph
