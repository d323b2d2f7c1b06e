// SqlBuilder: the SQL text of every WriteOp for one WritePlan, exactly as WritePlan.h
// defines it. It owns the plan's identifiers, quoted once; it never sees a value: values
// travel only as parameters, in the order each builder documents.
//
// Pure (no connection): quoting is a function the caller gives (PgConnection::quoteIdent in
// production), so the text is unit-tested without a database.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

class SqlBuilder {
 public:
  using QuoteIdent = std::function<std::string(std::string_view)>;

  // Throws std::invalid_argument when the plan breaks WritePlan's layout (no table, an
  // Upsert plan whose columns[0] is not idColumn, ...), naming the table.
  SqlBuilder(const WritePlan& plan, const QuoteIdent& quote);

  // Every value present: INSERT INTO t (id, columns...) VALUES ($1, ...) ON CONFLICT (id)
  // DO UPDATE SET column = EXCLUDED.column, ... (every non-id column).
  // Some value Absent (unchanged TOAST): the row is updated when it exists and inserted
  // otherwise, in one statement, the absent columns left out of both:
  //   WITH updated AS (UPDATE t SET present = $i ... WHERE id = $1 RETURNING 1),
  //        inserted AS (INSERT INTO t (id, present...) SELECT $1, ... WHERE NOT EXISTS
  //                     (SELECT FROM updated) RETURNING 1)
  //   SELECT 1 FROM updated UNION ALL SELECT 1 FROM inserted
  // (not ON CONFLICT: PostgreSQL checks NOT NULL on the proposed row before the conflict, so
  // an absent NOT NULL column would fail even for an existing row). With every non-id
  // column absent, the row is only inserted (id alone) when it does not exist.
  // `values` aligns with plan.columns; values[0] (the id slot) is ignored. Parameters: $1 the
  // row id, then the non-Absent values of columns[1..] in order.
  std::string upsert(std::span<const WriteValue> values) const;
  // DELETE FROM t WHERE id = $1. Parameters: the row id.
  std::string remove() const;
  // UPDATE t SET present columns = $1.. WHERE id = $n. Parameters: the non-Absent values in
  // column order, then the row id. With nothing present it only checks that the row exists
  // (SELECT), so a missing row is still reported.
  std::string setColumns(std::span<const WriteValue> values) const;
  // UPDATE t SET every column = NULL WHERE owner1 = $1 AND ... [AND id <> $n+1].
  // Parameters: the owner values in ownerColumns order, then the kept row id when keepRow.
  std::string release(bool keepRow) const;
  // Upsert target: DELETE FROM t (no parameters). Update target: UPDATE t SET columns = NULL
  // WHERE each constant owner = $i (parameters: constantOwners' values in order), or, with no
  // constant owners, WHERE any of the columns IS NOT NULL (no parameters).
  std::string truncate() const;

  // Upsert (owned rows) or Update (partial) target: from the mapping, or, for plans made
  // without one, from the owner columns that only partial targets have.
  static bool isUpsertTarget(const WritePlan& plan);
  bool upsertTarget() const { return upsertTarget_; }
  // The legacy id column's index in plan.columns when an upsert's DO UPDATE SET leaves it out,
  // else SIZE_MAX. It always holds the same value for one id (the id is made from the legacy
  // key), and naming a column of a unique index in DO UPDATE SET makes PostgreSQL lock the
  // existing row FOR UPDATE instead of FOR NO KEY UPDATE: that waits for every foreign-key check
  // of a child row in another session (KEY SHARE), which apply.sessions would run into. Kept
  // when it is the only column to update (DO NOTHING would change the rows-affected count).
  static std::size_t unchangedOnConflict(const WritePlan& plan);
  std::size_t columnCount() const { return columns_.size(); }
  std::size_t ownerCount() const { return owners_.size(); }

 private:
  std::string nullAll() const;
  void checkArity(std::size_t values) const;  // "SET a = NULL, b = NULL"

  std::string table_;
  std::string id_;
  std::vector<std::string> columns_;
  std::vector<std::string> owners_;
  std::vector<std::string> constantOwners_;
  bool upsertTarget_ = true;
  std::size_t legacy_ = SIZE_MAX;  // unchangedOnConflict()
};

}  // namespace pgmorph
