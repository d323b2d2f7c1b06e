// SlotChecks: the slot side of `pgmorph check`: whether source.slot exists, its plugin, whether
// it is active, its confirmed_flush_lsn against the checkpoint stored on the target, the WAL it
// makes the source keep (bytes from its restart_lsn to the current WAL position), and whether
// it is unusable (SlotManager::slotProblems: another plugin or database, lost). A checkpoint the
// slot cannot continue (no slot, or a slot that confirmed more than the target applied) is an
// error unless a snapshot is in progress (the snapshot starts over with a new slot).
//
// Contract: adds findings and the plan's slot to the report; reads only. Throws PgError when a
// database cannot be read.
#pragma once

#include "app/check/CheckReport.h"
#include "app/check/TargetChecks.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"

namespace pgmorph {

class SlotChecks {
 public:
  SlotChecks(const PipelineConfig& config, PgConnection& source, PgConnection& target);

  void run(CheckReport& report, const StateSchemaInfo& state);

 private:
  const PipelineConfig& config_;
  PgConnection& source_;
  PgConnection& target_;
};

}  // namespace pgmorph
