// SourceChecks: the source side of `pgmorph check`. What the database must offer
// (SlotManager::sourceProblems: wal_level, wal2json and output_plugin_libraries, free slots and
// senders, the REPLICATION attribute) and, per mapped table, from two catalog queries: the
// table and every mapped, key and `where` column exist, the role may SELECT it, and its replica
// identity lets wal2json send updates and deletes with the key (a table without a primary key
// and REPLICA IDENTITY DEFAULT or NOTHING: wal2json drops them silently).
//
// Contract: adds findings to the report, never throws for what it finds; throws PgError when
// the source cannot be read (the caller's "could not check").
#pragma once

#include "app/check/CatalogColumns.h"
#include "app/check/CheckReport.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"

namespace pgmorph {

class SourceChecks {
 public:
  SourceChecks(const PipelineConfig& config, PgConnection& source);

  // Adds the findings; returns the mapped tables' column types (for TargetChecks).
  ColumnTypes run(CheckReport& report);

 private:
  const PipelineConfig& config_;
  PgConnection& source_;
};

}  // namespace pgmorph
