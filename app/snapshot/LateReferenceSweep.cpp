#include "app/snapshot/LateReferenceSweep.h"

#include <spdlog/spdlog.h>

#include "cdc/model/Errors.h"
#include "sink/OrphanSweeper.h"
#include "sink/ParentChecker.h"
#include "state/ParkedStore.h"
#include "transform/Transformer.h"

namespace pgmorph {

void sweepLateReferences(PgConnection& target, const PipelineConfig& config,
                         const SnapshotPlan& plan, const TargetCatalog& catalog) {
  if (plan.lateChecks().empty()) return;
  Transformer transformer(config);
  ParentChecker checker(catalog, transformer.plans());
  OrphanSweeper sweeper(checker, transformer.plans());
  ParkedStore parked(config.target.stateSchema, config.pipeline);
  target.exec("BEGIN");
  try {
    std::size_t nulled = 0, parkedRows = 0;
    // Parking a row may leave rows naming it in turn: to a fixpoint (rows only leave).
    for (;;) {
      OrphanSweeper::Result found;
      for (const auto& [table, column] : plan.lateChecks())
        for (const WritePlan& p : transformer.plans())
          if (p.targetName() == table) sweeper.sweepColumn(target, p, column, found);
      if (!found.failed.empty())
        throw PgmorphError(ErrorClass::Operator,
                           sweeper.describe(found.failed.front(), "run the snapshot again."));
      for (const auto& n : found.nulled) parked.park(target, sweeper.parkedRow(n, Lsn()));
      for (auto& p : found.parked) parked.park(target, sweeper.parkedRow(p, Lsn()));
      nulled += found.nulled.size();
      parkedRows += found.parked.size();
      if (found.parked.empty()) break;
    }
    target.exec("COMMIT");
    if (nulled || parkedRows)
      spdlog::warn(
          "snapshot: references checked after the copy (no foreign key, tables that name each "
          "other): {} set to NULL (on_missing: null), {} rows parked (on_missing: park); see "
          "pgmorph parked list",
          nulled, parkedRows);
  } catch (...) {
    try {
      target.exec("ROLLBACK");
    } catch (const PgmorphError&) {
      // The error being thrown says more than this one.
    }
    throw;
  }
}

}  // namespace pgmorph
