// TableCounts: what happened to the changes of each source table in one run — the numbers the
// progress lines and the final summary show, so that nothing disappears silently
// (invariant 6): every change is applied, parked (visible, with a reason) or filtered by a
// rule of the mapping.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pgmorph {

struct TableCounts {
  std::uint64_t applied = 0;    // target writes that landed
  std::uint64_t filtered = 0;   // source changes no target takes (`where`), or of unmapped tables
  std::uint64_t parked = 0;     // target writes (or untransformable source changes) parked
  std::uint64_t nulled = 0;     // references written as NULL (on_missing / on_error: null)
  std::uint64_t unparked = 0;   // parked entries applied later (their parent arrived, ...)
  std::uint64_t discarded = 0;  // parked entries made moot by a later delete or release
};

// By source table as the mapping names it ("dispatch_user"); ordered for stable output.
using TableCountsMap = std::map<std::string, TableCounts>;

}  // namespace pgmorph
