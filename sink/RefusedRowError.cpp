#include "sink/RefusedRowError.h"

#include <fmt/format.h>

#include "sink/ServerDetail.h"

namespace pgmorph {

RefusedRowError::RefusedRowError(RefusedRow row)
    : PgmorphError(ErrorClass::Operator, describe(row)), row_(std::move(row)) {}

std::string RefusedRowError::describe(const RefusedRow& row) {
  std::string out = fmt::format("target refused {} of {}", toString(row.op), row.sourceTable);
  if (!row.legacyKey.empty()) out += fmt::format(" {}", row.legacyKey);
  out += fmt::format(" into {} (source LSN {}): {}", row.targetTable, row.lsn.str(), row.message);
  // No row values (ServerDetail.h): the constraint and column say what was refused.
  if (std::string detail = detailWithoutValues(row.detail); !detail.empty())
    out += fmt::format(". {}", detail);
  if (!row.constraint.empty()) out += fmt::format(" (constraint {})", row.constraint);
  if (!row.column.empty() && row.parentTable.empty())
    out += fmt::format(" (column {})", row.column);
  if (!row.parentTable.empty())
    out +=
        fmt::format(" ({} names a {} row that is not on the target)", row.column, row.parentTable);
  return out;
}

}  // namespace pgmorph
