// A stable, readable rendering of a Change for golden files and test failures. It leaves
// out what differs from run to run (xid, LSNs, commit time) and shows everything else:
// kind, relation, every column and identity entry with its type, value kind and value.
// Text is C-escaped so one line is one column; values longer than 100 bytes are shown as
// their length, an FNV-1a hash and their start.
#pragma once

#include <string>

#include "cdc/model/Change.h"

namespace pgmorph::test {

std::string renderChange(const Change& change);

}  // namespace pgmorph::test
