// TableComparer: compares one target table with its expected rows (ExpectedRows), inside
// verify's target session, and fills a TableResult.
//
// One pass: a FULL JOIN of the expected rows and the target table on the id column, which
// the server runs as a hash or merge join — each side read once, pgmorph holding nothing but
// the counts and the first --max-differences rows. Both sides hold the column's own type, so
// columns compare as values with the type's = operator (equal instants, equal jsonb
// documents); a type without one (json, xml, point, ...) compares by its text output, which is
// canonical for one type.
//
// Parked rows: a differing row whose id has an entry in the pipeline's parked table, or that
// ExpectedRows found unconvertible, is counted as parked, not as a difference.
//
// Contract: runs in the caller's transaction; reads only.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "app/verify/ExpectedRows.h"
#include "app/verify/VerifyResult.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetCatalog.h"

namespace pgmorph {

class TableComparer {
 public:
  // `parkedTable`: the quoted parked table of the state schema, "" when it does not exist.
  TableComparer(PgConnection& target, std::string parkedTable, std::string pipeline,
                std::uint64_t maxDifferences, std::size_t maxValueChars = 80);

  void compare(const TargetTable& table, const ExpectedTable& expected, TableResult& out);

 private:
  std::string fromClause(const TargetTable& table, const ExpectedTable& expected) const;
  std::set<std::string> withEquality(const TargetTable& table) const;
  std::string columnDiffers(const std::string& column, const std::set<std::string>& equality) const;
  std::string differs(const ExpectedTable& expected, const std::set<std::string>& equality) const;

  PgConnection& target_;
  std::string parkedTable_;
  std::string pipeline_;
  std::uint64_t maxDifferences_;
  std::size_t maxValueChars_;
};

}  // namespace pgmorph
