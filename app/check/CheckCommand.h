// CheckCommand: `pgmorph check` and the same checks run by snapshot, run and follow before
// anything moves. It connects to both sides and runs SourceChecks, TargetChecks and SlotChecks
// into one CheckReport: every problem of one run, then the plan.
//
// Exit codes of `pgmorph check`: 0 nothing blocks (warnings allowed), 1 it found problems
// (the pipeline file's, or errors of the report), 2 it could not check (the file cannot be
// read, a database cannot be reached or read; the reason, never a password).
#pragma once

#include <ostream>
#include <string>

#include "app/check/CheckReport.h"
#include "app/check/SchemaDriftCheck.h"
#include "app/check/TargetChecks.h"
#include "transform/Config.h"

namespace pgmorph {

class CheckCommand {
 public:
  // `pgmorph check -c path [--json]`: prints the report (text or JSON) to `out`.
  static int run(const std::string& path, bool json, std::ostream& out);

  // Every check; throws PgError when a database cannot be reached or read. `accepted`, when
  // given, receives the source table shapes a start would record (SchemaDriftCheck).
  static CheckReport checkAll(const PipelineConfig& config, CheckPurpose purpose,
                              std::vector<ShapeAcceptance>* accepted = nullptr);

  // Before snapshot, run or follow: throws PgmorphError (Operator) listing every error of the
  // source and target sides (the slot's state is left to the command, which knows about
  // --recreate-slot and the snapshot in progress), and logs the warnings as one line.
  // Connection failures propagate as they are (PgError: the command's retry loop decides).
  // When nothing blocks, records the source tables' shapes that the start accepts (a table
  // seen for the first time, a schema change the mapping and on_schema_change account for).
  static void preflight(const PipelineConfig& config, CheckPurpose purpose);
};

}  // namespace pgmorph
