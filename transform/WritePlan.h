// WritePlan: for one TargetMapping, the target columns that a TargetWrite's values line
// up with. Built once by Transformer from the config; the sink builds its SQL from it
// and never re-derives the mapping.
//
// SQL each op means (the sink implements exactly this; `t` is the target table):
//   Upsert      INSERT INTO t (columns...) VALUES (...) ON CONFLICT (idColumn) DO UPDATE
//               SET every present non-id column = EXCLUDED.column. Values align with
//               `columns`; an Absent value (unchanged TOAST) is neither inserted nor
//               updated. columns[0] is always idColumn.
//   Delete      DELETE FROM t WHERE idColumn = row.
//   SetColumns  UPDATE t SET columns[i] = value[i] (present ones) WHERE idColumn = row.
//               Values align with `columns` (the listed columns, then `set` constants).
//               Touching no row is an error: the row it completes does not exist.
//   Release     UPDATE t SET every one of `columns` = NULL
//               WHERE ownerColumns[i] = value[i] for all i [AND idColumn <> row if hasRow].
//               Values align with `ownerColumns`.
//   Truncate    Upsert mapping: DELETE FROM t.
//               Update mapping: UPDATE t SET `columns` = NULL WHERE the owner columns
//               that are `set` constants equal their constants (constantOwners), or, when
//               there are none, WHERE any of `columns` IS NOT NULL.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "transform/Config.h"

namespace pgmorph {

struct WritePlan {
  const TableMapping* source = nullptr;
  const TargetMapping* mapping = nullptr;
  std::string targetSchema;
  std::string targetTable;
  std::string idColumn;
  // "schema.table" of the target, as catalogs and messages name it.
  std::string targetName() const { return targetSchema + "." + targetTable; }
  // Upsert: idColumn, then legacyIdColumn (if any), mapped columns, `set` constants.
  // Update (partial): mapped columns, then `set` constants.
  std::vector<std::string> columns;
  // Update (partial) only: the columns that say which source row filled a target row
  // (mapped from the source table's key columns, plus `set` constants). Release matches
  // on them, so it finds the rows a source row filled without knowing its old key column.
  std::vector<std::string> ownerColumns;
  // Owner columns that are `set` constants, with their values (used by Truncate).
  std::vector<std::pair<std::string, std::string>> constantOwners;
  // Source table (key table for Update mappings) of each ref column, by column index,
  // empty when the column is not a ref. Lets the sink name the missing parent.
  std::vector<std::string> refTables;
};

}  // namespace pgmorph
