// StatusCommand: `pgmorph status -c FILE [--json]`. Reads what is durable on the target
// (checkpoint, snapshot progress, parked rows, suspended DDL, through the state stores) and
// asks the source for its current WAL position and the slot (SlotManager::inspect), into one
// StatusReport. Works whether or not a pgmorph process is running (the slot's active_pid says
// whether one is) and changes nothing: a state table that does not exist yet reads as empty.
//
// Exit codes: 0 both databases answered (status is informational: lag, parked rows or a
// missing slot do not change it); 2 the pipeline file cannot be read, or a database cannot be
// reached or read — the report names which, and still shows what the other side gave. A
// password is never printed (PgConnection masks it in its messages).
#pragma once

#include <ostream>
#include <string>

#include "app/status/StatusReport.h"
#include "transform/Config.h"

namespace pgmorph {

class StatusCommand {
 public:
  // `pgmorph status -c path [--json]`: prints the report (text or JSON) to `out`.
  static int run(const std::string& path, bool json, std::ostream& out);

  // Reads both sides; never throws for a database that cannot be reached or read (the
  // report says so).
  static StatusReport collect(const PipelineConfig& config);

 private:
  static void readTarget(const PipelineConfig& config, StatusReport& report);
  static void readSource(const PipelineConfig& config, StatusReport& report);
};

}  // namespace pgmorph
