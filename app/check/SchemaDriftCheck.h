// SchemaDriftCheck: the source's catalog against the shape pgmorph accepted for each mapped
// table (state/SourceShapeStore), judged by transform/SchemaDrift at the moment of a start.
// `pgmorph check` reports each drift (an error when a start would refuse it, info when it
// would be accepted); snapshot, run and follow (CheckCommand::preflight) then record what was
// accepted — and the shape of a table seen for the first time — with accept().
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/check/CheckReport.h"
#include "cdc/model/TableShape.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"

namespace pgmorph {

// A shape to record at the start: the table's first, or one whose drift was all accepted.
struct ShapeAcceptance {
  const TableMapping* table = nullptr;
  TableShape shape;
  std::optional<TableShape> previous;  // the shape it replaces; nullopt the first time
  std::string summary;                 // what was accepted, for the log ("" the first time)
};

// "schema.table" -> its columns now, from the catalog (tables that do not exist are absent).
std::map<std::string, TableShape> readSourceShapes(PgConnection& source,
                                                   const std::vector<std::string>& tables);

class SchemaDriftCheck {
 public:
  SchemaDriftCheck(const PipelineConfig& config, PgConnection& source, PgConnection& target);

  // Adds the findings; returns what a start would record.
  std::vector<ShapeAcceptance> run(CheckReport& report);

  // Records `accepted` on the target (one transaction) and logs one line per changed table.
  static void accept(const PipelineConfig& config, PgConnection& target,
                     const std::vector<ShapeAcceptance>& accepted);

 private:
  const PipelineConfig& config_;
  PgConnection& source_;
  PgConnection& target_;
};

}  // namespace pgmorph
