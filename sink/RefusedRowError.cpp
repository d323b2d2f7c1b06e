#include "sink/RefusedRowError.h"

#include <fmt/format.h>

namespace pgmorph {

RefusedRowError::RefusedRowError(RefusedRow row)
    : PgmorphError(ErrorClass::Operator, describe(row)), row_(std::move(row)) {}

std::string RefusedRowError::describe(const RefusedRow& row) {
  std::string out = fmt::format("target refused {} of {}", toString(row.op), row.sourceTable);
  if (!row.legacyKey.empty()) out += fmt::format(" {}", row.legacyKey);
  out += fmt::format(" into {} (source LSN {}): {}", row.targetTable, row.lsn.str(), row.message);
  if (!row.detail.empty()) out += fmt::format(". {}", row.detail);
  if (!row.parentTable.empty())
    out +=
        fmt::format(" ({} names a {} row that is not on the target)", row.column, row.parentTable);
  return out;
}

}  // namespace pgmorph
