#include "app/follow/ApplyTarget.h"

#include <fmt/format.h>

#include "cdc/model/Errors.h"
#include "state/SnapshotStore.h"
#include "state/SuspendedDdlStore.h"

namespace pgmorph {

PgConnection openApplyTarget(const PipelineConfig& config) {
  PgConnection target(config.target.conninfo, "target");
  // What we confirm to the source is what the target has committed: that must mean durable.
  // With synchronous_commit off (a server default some set for speed) a target crash could
  // lose commits whose positions the slot has already released.
  target.exec("SET synchronous_commit = on");
  // pgmorph's statements look rows up by key, a few hundred keys at a time. With the default
  // random_page_cost (4, tuned for spinning disks) the planner joins a key array of a few
  // hundred rows to a table by hashing a full scan of it, which grows with the table; index
  // lookups are what these statements need, whatever the server's default.
  target.exec("SET random_page_cost = 1.1");
  return target;
}

void requireLoadedTarget(PgConnection& target, const PipelineConfig& config) {
  // Applying to a half-loaded target would write onto tables that the snapshot has not copied
  // yet (and the snapshot would then refuse or redo them).
  SnapshotStore snapshots(config.target.stateSchema, config.pipeline);
  snapshots.ensureSchema(target);
  auto snapshot = snapshots.load(target);
  if (snapshot && snapshot->status != SnapshotStatus::Done)
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("the snapshot of pipeline '{}' (slot '{}') is not finished: run `pgmorph "
                    "snapshot` (or `pgmorph run`) to complete it before following",
                    config.pipeline, snapshot->slot));
  // The snapshot restores what its bulk load dropped before it is marked done; this holds
  // even if the snapshot's row was removed by hand: never apply without the target's keys.
  SuspendedDdlStore suspended(config.target.stateSchema, config.pipeline);
  suspended.ensureSchema(target);
  if (suspended.anySuspended(target))
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("indexes or foreign keys of the target that a snapshot of pipeline '{}' "
                    "dropped for its bulk load are not restored yet (listed in {}.suspended_ddl "
                    "with state 'suspended'): run `pgmorph snapshot` (or `pgmorph run`) to "
                    "restore them before following",
                    config.pipeline, config.target.stateSchema));
}

}  // namespace pgmorph
