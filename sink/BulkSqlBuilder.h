// BulkSqlBuilder: the SQL text of the multi-row statements for one WritePlan — one
// statement writes a whole run of same-shaped writes, each column travelling as one array
// parameter cast to its column's type on the server: a text array (ArrayLiteral) as shown
// below, or a binary array of the column's own type (BinaryArray; ParamTypes says which):
//   Upsert      INSERT INTO t (id, cols...) SELECT v.c0::T0, ... FROM unnest($1::text[], ...)
//               AS v(c0, ...) ON CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ...
//               WHERE (t.col IS DISTINCT FROM EXCLUDED.col OR ...)  (an unchanged row is
//               left alone, as by SetColumns)
//               (with an absent column: WITH v AS (...), updated AS (UPDATE ... RETURNING id)
//               INSERT ... SELECT ... FROM v WHERE NOT EXISTS (updated row))
//   Insert      INSERT INTO t (id, cols...) SELECT ... FROM unnest(...) (rows the source
//               inserted: no speculative insertion; see TargetWrite::fresh)
//   Delete      DELETE FROM t WHERE id = ANY($1::Tid[])
//   SetColumns  WITH v AS (SELECT id::Tid, ck::Tk, ... FROM unnest($1::text[], ...)),
//               updated AS (UPDATE t SET col = v.ck, ... FROM v WHERE t.id = v.id AND
//                           (t.col IS DISTINCT FROM v.ck OR ...) RETURNING 1)
//               SELECT matched (rows of v that exist in t), updated (rows rewritten)
//               (a row that already holds the values is left alone; `matched` < the run's
//               length means a row is missing)
//   Release     UPDATE t SET cols = NULL FROM unnest($1::text[], ..., $n::text[]) AS
//               v(o0, ..., keep) WHERE t.owner0 = v.o0::T AND ... AND t.id IS DISTINCT FROM
//               v.keep::Tid      (keep NULL: the release keeps no row)
// with exactly the meaning WritePlan.h gives each op, row by row (a run of releases of one
// plan clears the union of what each clears, in any order: they commute). Truncate stays
// one statement per write (SqlBuilder).
//
// Pure (no connection): the caller gives the quoting function and the column types.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

// Types of a plan's columns as format_type(oid, -1) gives them: without typmod, because
// an explicit cast to varchar(n) or char(n) would silently cut a long value, where the
// assignment into the column refuses it — as the one-row statement does.
struct PlanColumnTypes {
  std::vector<std::string> columns;  // aligned with plan.columns
  std::vector<std::string> owners;   // aligned with plan.ownerColumns
  std::string id;                    // plan.idColumn
};

class BulkSqlBuilder {
 public:
  using QuoteIdent = std::function<std::string(std::string_view)>;
  // The element type of each array parameter, in parameter order, as the statement casts it
  // (`$2::numeric[]`): a parameter sent as a binary array of the column's own type (see
  // BinaryArray) is cast to that type's array. Empty: every parameter is a text array.
  using ParamTypes = std::span<const std::string_view>;

  // Throws std::invalid_argument when the plan and the types do not line up, or an Upsert
  // plan's columns[0] is not its id column.
  BulkSqlBuilder(const WritePlan& plan, PlanColumnTypes types, const QuoteIdent& quote);

  // Parameters: $1 the row ids, then one array per non-Absent value of columns[1..], in
  // order. Every value present: INSERT ... ON CONFLICT DO UPDATE (DO NOTHING for a plan with
  // no column but its id). Some value Absent: like SqlBuilder::upsert, the existing rows are
  // updated and the others inserted, without the absent columns (a data-modifying WITH).
  std::string upsert(std::span<const WriteValue> values, ParamTypes params = {}) const;
  // Rows the target should not have yet (TargetWrite::fresh), same parameters as upsert():
  // INSERT INTO t (id, cols...) SELECT ... FROM unnest(...), no ON CONFLICT, so an existing
  // row fails the statement (unique violation) instead of being updated. With a value Absent,
  // the upsert (an absent column must not be written).
  std::string insert(std::span<const WriteValue> values, ParamTypes params = {}) const;
  // Parameters: $1 the row ids (an array of the id column's type, text or binary).
  std::string remove() const;
  // Parameters: $1 the row ids, then one array per non-Absent value, in column order. Its
  // one result row: (matched, updated), see above.
  // Throws std::invalid_argument when nothing is present (that shape only checks that the
  // row exists, which a multi-row statement cannot report row by row).
  std::string setColumns(std::span<const WriteValue> values, ParamTypes params = {}) const;
  // Parameters: one array per owner column (ownerColumns order), then the kept row ids
  // (NULL elements for releases that keep none).
  std::string release(ParamTypes params = {}) const;

  // The column types it was built with.
  const PlanColumnTypes& types() const { return types_; }

 private:
  void checkArity(std::size_t values) const;
  // The rows of an insert or upsert: the id and every present value of columns[1..].
  struct RowsSelect {
    std::string names;                 // "id, col, ..." (the INSERT's column list)
    std::string rows;                  // "SELECT v.c0::T AS c0, ... FROM unnest(...) AS v(c0, ...)"
    std::string selected;              // "c0, ci, ..." (the same columns by alias)
    std::vector<std::size_t> present;  // indexes of the present values, id excluded
    bool absent = false;               // some value is Absent
  };
  RowsSelect rowsSelect(std::span<const WriteValue> values, ParamTypes params) const;
  // "(t.a IS DISTINCT FROM <value(a)> OR ...)" over the given columns, `pgmorph_t` the target
  // row: exact for types whose equality is identity, else by text output under "C".
  std::string differs(std::span<const std::size_t> columns,
                      const std::function<std::string(std::size_t)>& value) const;

  std::string table_;
  std::string id_;
  PlanColumnTypes types_;
  std::size_t legacy_ = SIZE_MAX;  // SqlBuilder::unchangedOnConflict()
  std::vector<std::string> columns_;
  std::vector<std::string> owners_;
};

}  // namespace pgmorph
