// The JSON of parked write values, as the parked table's `write_values` column stores them:
// [["column","P","text"],["column","N"],["column","A"],...] — each value by its target column
// name, with its state (ParkedValue::State) and, when present, its text.
//
// The parked table survives upgrades: decode reads what earlier versions wrote (this same
// format), and encode writes nothing else (state/tests pin the exact text).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "state/ParkedRow.h"

namespace pgmorph {

std::string encodeParkedValues(std::span<const ParkedValue> values);
// "" decodes to no values. Throws std::invalid_argument when `json` is not what
// encodeParkedValues writes.
std::vector<ParkedValue> decodeParkedValues(std::string_view json);

}  // namespace pgmorph
