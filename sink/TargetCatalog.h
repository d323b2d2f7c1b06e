// TargetCatalog: what the target database says about the tables pgmorph writes — their
// columns (type, NOT NULL, generated) and the foreign keys between them (as an FkGraph).
// Read once per run from pg_catalog; used to order writes, to skip generated columns, and
// by `pgmorph check` to compare the mapping with reality.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "transform/FkGraph.h"

namespace pgmorph {

struct TargetColumn {
  std::string name;
  std::string type;  // format_type(): "uuid", "timestamp with time zone", "character(2)"
  bool notNull = false;
  bool generated = false;  // GENERATED ALWAYS AS (...) STORED, or an identity ALWAYS column
  bool hasDefault = false;
};

struct TargetTable {
  std::string schema;
  std::string name;
  std::vector<TargetColumn> columns;
  const TargetColumn* find(const std::string& column) const;
  std::string qualified() const { return schema + "." + name; }
};

class TargetCatalog {
 public:
  // Reads the given tables ("schema.table"); a table that does not exist is absent from
  // tables() (callers report it). FKs are read for every table in the list; `suspended`
  // adds foreign keys that are meant to be there but are dropped for the moment (a snapshot's
  // bulk load), so that plans and checks see the schema as it is defined.
  static TargetCatalog read(PgConnection& target, const std::vector<std::string>& tables,
                            const std::vector<ForeignKey>& suspended = {});

  // A catalog as given (tests of what is planned from one, without a database). The graph's
  // tables are the given tables.
  static TargetCatalog of(std::vector<TargetTable> tables, std::vector<ForeignKey> foreignKeys);

  const TargetTable* table(const std::string& qualified) const;
  const FkGraph& graph() const { return graph_; }

 private:
  std::unordered_map<std::string, TargetTable> tables_;
  FkGraph graph_;
};

}  // namespace pgmorph
