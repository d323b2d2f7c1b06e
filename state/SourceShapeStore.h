// SourceShapeStore keeps, in the target's state schema (table `source_columns`), the shape of
// each mapped source table that pgmorph has accepted: its columns in order, their types, and
// whether each is toastable (cdc/model/TableShape.h). The stream measures schema drift against
// it (transform/SchemaDrift.h); every start records it when absent and replaces it when the
// source's catalog has changed in a way the mapping and `on_schema_change` account for.
//
// `previous` is the shape accepted before the current one. Changes written on the source
// before its DDL can still be in the stream after pgmorph accepted the new shape at a start
// (the DDL happened while it was down): they carry the previous shape and are not drift.
//
// Every method runs on the caller's connection and transaction; none commits by itself.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "cdc/model/TableShape.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct AcceptedShape {
  TableShape shape;
  std::optional<TableShape> previous;
};

class SourceShapeStore {
 public:
  SourceShapeStore(std::string stateSchema, std::string pipeline);

  void ensureSchema(PgConnection& target) const;
  // "schema.table" -> its accepted shape; empty when the table does not exist yet.
  std::map<std::string, AcceptedShape> load(PgConnection& target) const;
  // Records `shape` as the accepted shape of schema.table (`previous`: the one it replaces,
  // nullopt at the first recording).
  void save(PgConnection& target, const std::string& schema, const std::string& table,
            const TableShape& shape, const std::optional<TableShape>& previous) const;

  // The same encoding for a shape read from a catalog: names and types joined by U+001F
  // (state/NameList.h), toastable as one 't'/'f' per column.
  static TableShape decode(std::string_view names, std::string_view types,
                           std::string_view toastable);

 private:
  std::string table(PgConnection& target) const;
  std::string schema_;
  std::string pipeline_;
};

}  // namespace pgmorph
