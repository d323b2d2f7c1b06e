#include "sink/ParamBuffer.h"

#include <cstring>

namespace pgmorph {

void ParamBuffer::clear() {
  text_.clear();
  offsets_.clear();
}

bool ParamBuffer::add(std::string_view text) {
  if (!text.empty() && std::memchr(text.data(), 0, text.size()) != nullptr) return false;
  offsets_.push_back(text_.size());
  text_.append(text);
  text_.push_back('\0');
  return true;
}

void ParamBuffer::addNull() {
  offsets_.push_back(kNull);
}

const char* const* ParamBuffer::values() {
  // Pointers are taken only now: appending may have moved the text.
  pointers_.resize(offsets_.size());
  for (std::size_t i = 0; i < offsets_.size(); ++i)
    pointers_[i] = offsets_[i] == kNull ? nullptr : text_.data() + offsets_[i];
  return pointers_.data();
}

}  // namespace pgmorph
