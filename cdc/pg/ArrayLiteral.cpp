#include "cdc/pg/ArrayLiteral.h"

namespace pgmorph {

void ArrayLiteral::clear() {
  text_.assign(1, '{');
  count_ = 0;
  closed_ = false;
}

bool ArrayLiteral::add(std::string_view text) {
  if (closed_) text_.pop_back();
  closed_ = false;
  const std::size_t mark = text_.size();  // back to here when the text cannot be sent
  if (count_) text_.push_back(',');
  text_.push_back('"');
  // One pass that copies the stretches between characters needing a backslash in one go and
  // meets a NUL on the way. (string_view::find_first_of calls memchr once per character.)
  const char* run = text.data();
  const char* const end = run + text.size();
  for (const char* p = run; p != end; ++p) {
    const char c = *p;
    if (c == '"' || c == '\\') {
      text_.append(run, p);
      text_.push_back('\\');
      run = p;
    } else if (c == '\0') {
      text_.resize(mark);
      return false;
    }
  }
  text_.append(run, end);
  text_.push_back('"');
  ++count_;
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
