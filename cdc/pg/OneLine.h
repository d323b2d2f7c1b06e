// oneLine: a libpq message as one log line. libpq's texts span lines — "ERROR:  ...\nDETAIL:
// ...\nHINT:  ...", a connection failure's "\n\tIs the server running ...?" — and each line
// break would start a log line of its own that no longer says which message it belongs to.
// Every line break (with the indentation after it) becomes "; "; trailing blanks go.
#pragma once

#include <string>
#include <string_view>

namespace pgmorph {

inline std::string oneLine(std::string_view text) {
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\n' && c != '\r') {
      out += c;
      continue;
    }
    while (i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r' ||
                                   text[i + 1] == ' ' || text[i + 1] == '\t'))
      ++i;
    out += "; ";
  }
  return out;
}

}  // namespace pgmorph
