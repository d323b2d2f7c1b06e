// TargetChecks: the target side of `pgmorph check`, from a few catalog queries
// (TargetCatalog, the column types, the role's rights, the state schema, the unindexed
// foreign keys). Per mapped target: the table and every written column exist and are not
// generated; what each column receives can become its type (TypeCompatibility: the id and
// every `ref:` into uuid, type: jsonb into json/jsonb, ...); every NOT NULL column without a
// default is written by each upsert mapping of the table; the role may SELECT, INSERT, UPDATE
// and DELETE what it must. Then the FK graph (its levels into the plan, each cycle with its
// constraints and whether each is deferrable; a cycle a snapshot cannot load is an error for
// the commands that take one), the state schema (pgmorph runs CREATE SCHEMA IF NOT EXISTS at
// every start, which needs CREATE on the database) and, as warnings, each foreign key onto a
// mapped table without an index leading with its columns, with the CREATE INDEX.
//
// Contract: adds findings and the plan's levels and cycles to the report, never throws for
// what it finds; throws PgError when the target cannot be read.
#pragma once

#include "app/check/CatalogColumns.h"
#include "app/check/CheckReport.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"

namespace pgmorph {

// Who asks: `check` itself, or a command about to start, which leaves to itself what it decides
// better (follow does not take a snapshot, so a cycle a snapshot cannot load does not stop it).
enum class CheckPurpose { Check, Snapshot, Follow };

// What the target's state schema holds (SlotChecks reads the checkpoint from it).
struct StateSchemaInfo {
  bool exists = false;
  bool checkpointTable = false, snapshotTable = false, suspendedTable = false;
};

class TargetChecks {
 public:
  TargetChecks(const PipelineConfig& config, PgConnection& target, CheckPurpose purpose);

  // `sourceTypes`: the source's column types (SourceChecks::run), for plain copies.
  StateSchemaInfo run(CheckReport& report, const ColumnTypes& sourceTypes);

 private:
  StateSchemaInfo checkStateSchema(CheckReport& report);

  const PipelineConfig& config_;
  PgConnection& target_;
  CheckPurpose purpose_;
};

}  // namespace pgmorph
