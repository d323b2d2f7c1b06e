// ColumnConverter: the value rule of one mapped column (ColumnMapping), precomputed once:
// NULL -> `default` (written as is: a value in the target's terms, never converted or
// hashed) or NULL; otherwise `map` recoding, then either `ref` (the UUID of
// "<ref table>:<value>") or the `type:` conversion (Conversions.h). It appends exactly one
// value to a TargetWrite: Absent when the column is not in the change (unchanged TOAST).
//
// Contract: convert() never throws for bad data. On a value it cannot convert it appends
// nothing, sets `why` to a sentence fragment naming the value (truncated) and the reason,
// and returns false; the caller names the row and applies the column's on_error policy.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cdc/model/Change.h"
#include "transform/Config.h"
#include "transform/IdMapper.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

class ColumnConverter {
 public:
  // Refs hash through `ids`' shared TableIds of the referenced table.
  ColumnConverter(const ColumnMapping& mapping, const SourceConfig& source, IdMapper& ids);

  // `value` is nullptr when the change does not carry the column.
  bool convert(const ColumnView* value, TargetWrite& out, std::string& why) const;

  const ColumnMapping& mapping() const { return *mapping_; }

  // A value as shown in messages: quoted and cut to a readable length.
  static std::string quoteForMessage(std::string_view value);

 private:
  const std::string* recode(std::string_view value) const;

  const ColumnMapping* mapping_;
  std::string zoneSuffix_;  // " <source.timezone>", appended to naive timestamps
  const IdMapper::TableIds* refIds_ = nullptr;
  // `map` sorted by legacy text when it is long enough for a binary search to pay.
  std::vector<std::pair<std::string, std::string>> sortedMap_;
};

}  // namespace pgmorph
