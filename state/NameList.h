// NameList: a list of identifiers carried as one text, joined by U+001F (the unit separator,
// which identifiers do not contain unquoted). The server side builds or splits the same text
// with string_agg(..., E'\x1f') / string_to_array, so a column list is one column of a row.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgmorph {

std::string joinNames(const std::vector<std::string>& names);
// The empty text is the empty list.
std::vector<std::string> splitNames(std::string_view joined);

}  // namespace pgmorph
