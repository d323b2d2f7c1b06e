#include "sink/CopyTextEncoder.h"

namespace pgmorph {

void CopyTextEncoder::appendValue(std::string& out, std::string_view value) {
  // Copy runs of ordinary bytes at once; most values have nothing to escape.
  std::size_t run = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    const char* escape = nullptr;
    switch (c) {
      case '\\':
        escape = "\\\\";
        break;
      case '\t':
        escape = "\\t";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      default:
        continue;
    }
    out.append(value.data() + run, i - run);
    out.append(escape, 2);
    run = i + 1;
  }
  out.append(value.data() + run, value.size() - run);
}

}  // namespace pgmorph
