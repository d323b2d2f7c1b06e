// SuspendedDdlStore keeps, in the target's state schema, the definitions of the indexes,
// PRIMARY KEY / UNIQUE constraints and foreign keys that a snapshot dropped to load its tables
// faster (the bulk-load order of pg_restore: data, then indexes, then foreign keys), and
// whether each one has been put back.
//
// Why on the target: the drop and the record commit together, and so do each restore and
// its "restored" mark, so after a crash at any moment every definition that is missing from
// the catalog is recorded here as suspended, and nothing is ever forgotten. The definitions
// are the ones first recorded: a later suspension of the same names (a snapshot that starts
// over) keeps them, so an already-dropped state is never taken for the original.
//
// Every method runs on the caller's connection and transaction; none commits by itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph {

enum class DdlKind { ForeignKey, Constraint, Index };

struct SuspendedDdl {
  std::string schema, table;  // the table that holds the constraint or index
  std::string name;           // constraint name (index name for a plain index)
  DdlKind kind = DdlKind::Index;
  // pg_get_constraintdef() for constraints and foreign keys, pg_get_indexdef() for indexes.
  std::string definition;
  // A PRIMARY KEY / UNIQUE constraint's index, pg_get_indexdef(): it carries what the
  // constraint's definition does not (storage parameters such as fillfactor). The constraint
  // is put back by building this index and attaching it (ADD CONSTRAINT ... USING INDEX).
  std::string indexDefinition;
  // Foreign keys only: what the snapshot's plan needs while the key is not in the catalog.
  std::string referencedTable;  // "schema.table"
  std::vector<std::string> columns, referencedColumns;
  // Foreign keys and constraints.
  bool deferrable = false, initiallyDeferred = false;
  bool restored = false;

  std::string qualifiedTable() const { return schema + "." + table; }
};

std::string_view toString(DdlKind kind);

class SuspendedDdlStore {
 public:
  SuspendedDdlStore(std::string stateSchema, std::string pipeline);

  void ensureSchema(PgConnection& target) const;

  // Every definition recorded for the pipeline, in recording order.
  std::vector<SuspendedDdl> load(PgConnection& target) const;
  // True when some definition is still suspended (missing from the target).
  bool anySuspended(PgConnection& target) const;
  // Records `ddl` as suspended; a definition recorded earlier under the same table and name
  // keeps its recorded text and is only marked suspended again.
  void recordSuspended(PgConnection& target, const SuspendedDdl& ddl) const;
  void markRestored(PgConnection& target, const SuspendedDdl& ddl, double seconds) const;
  // Forgets the definitions already restored (history of a finished snapshot).
  void clearRestored(PgConnection& target) const;

  const std::string& stateSchema() const { return schema_; }

 private:
  std::string table(PgConnection& target) const;

  std::string schema_;
  std::string pipeline_;
};

}  // namespace pgmorph
