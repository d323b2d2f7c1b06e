#include "sink/ServerDetail.h"

#include <array>

namespace pgmorph {

std::string detailWithoutValues(std::string_view detail) {
  // PostgreSQL builds these as "Key (%s)=(%s) <rest>" (ri_triggers.c, nbtinsert.c,
  // execIndexing.c); the value list may hold anything, so its end is found from the known
  // endings, searched from the back.
  constexpr std::string_view kKey = "Key (";
  if (detail.substr(0, kKey.size()) != kKey) return {};
  std::size_t cols = detail.find(")=(");
  if (cols == std::string_view::npos) return {};
  constexpr std::array<std::string_view, 4> kEndings = {
      ") already exists", ") is not present in table", ") is still referenced from table",
      ") conflicts with existing key"};
  for (std::string_view ending : kEndings) {
    std::size_t at = detail.rfind(ending);
    if (at == std::string_view::npos || at < cols + 2) continue;
    return std::string(detail.substr(0, cols + 1)) + std::string(detail.substr(at + 1));
  }
  return {};
}

std::string copyContextWithoutValues(std::string_view context) {
  // "COPY profiles, line 3, column email: \"x\"" -> "COPY profiles, line 3, column email"
  std::size_t cut = context.find(": ");
  return std::string(context.substr(0, cut));
}

}  // namespace pgmorph
