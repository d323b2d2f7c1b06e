#include "app/snapshot/SnapshotLeftovers.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cdc/SlotManager.h"
#include "cdc/pg/PgConnection.h"
#include "state/SnapshotStore.h"
#include "state/SuspendedDdlStore.h"

namespace pgmorph {

SnapshotLeftovers SnapshotLeftovers::read(const PipelineConfig& config) {
  SnapshotLeftovers out;
  out.pipeline = config.pipeline;
  out.stateSchema = config.target.stateSchema;
  out.slot = config.source.slot;
  try {
    PgConnection target(config.target.conninfo, "target");
    SnapshotStore store(config.target.stateSchema, config.pipeline);
    if (auto rec = store.load(target); rec && rec->status == SnapshotStatus::InProgress) {
      out.snapshotInProgress = true;
      out.slot = rec->slot.empty() ? out.slot : rec->slot;
      out.tasksDone = 0;
      for (const auto& t : store.tasks(target)) {
        ++out.tasksTotal;
        if (t.state == SnapshotTaskState::Done) ++out.tasksDone;
      }
    }
    for (const auto& d : SuspendedDdlStore(config.target.stateSchema, config.pipeline).load(target))
      if (!d.restored) ++out.suspended;
  } catch (const std::exception& e) {
    spdlog::debug("cannot read what the snapshot left on the target: {}", e.what());
  }
  try {
    if (auto slot = SlotManager(config.source.conninfo).inspect(out.slot)) {
      out.slotExists = true;
      out.slotRestartLsn = slot->restartLsn;
    }
  } catch (const std::exception& e) {
    spdlog::debug("cannot inspect slot '{}' on the source: {}", out.slot, e.what());
  }
  return out;
}

namespace {

std::string slotLine(const SnapshotLeftovers& l) {
  if (!l.slotExists) return {};
  return fmt::format(
      " Replication slot '{}' stays on the source and keeps its WAL (from {} on) until the "
      "next `pgmorph snapshot` re-creates it; if you give the snapshot up, drop it on the "
      "source: SELECT pg_drop_replication_slot('{}').",
      l.slot, l.slotRestartLsn.str(), l.slot);
}

std::string suspendedLine(const SnapshotLeftovers& l) {
  if (l.suspended == 0) return {};
  return fmt::format(
      " {} index{} and foreign key{} dropped for the bulk load are not restored yet (their "
      "definitions are in {}.suspended_ddl): the next `pgmorph snapshot` restores them when it "
      "finishes.",
      l.suspended, l.suspended == 1 ? "" : "es", l.suspended == 1 ? "" : "s", l.stateSchema);
}

}  // namespace

std::string SnapshotLeftovers::stopMessage() const {
  std::string copied = tasksDone >= 0 ? fmt::format("{} of {} tables copied", tasksDone, tasksTotal)
                                      : std::string("the copy had not started");
  std::string out = fmt::format(
      "snapshot stopped: {}. The exported snapshot the copies read under ended with this "
      "process, so the next `pgmorph snapshot` starts over: it empties the mapped target tables "
      "and copies them all again under a new snapshot and a re-created slot (tables copied "
      "under the old snapshot cannot be kept: their rows are of another point in time than the "
      "new slot's, and the stream would not bring them to one state).",
      copied);
  if (!snapshotInProgress && tasksDone < 0)
    out =
        "snapshot stopped before it recorded anything: the next `pgmorph snapshot` starts "
        "from the beginning.";
  return out + slotLine(*this) + suspendedLine(*this);
}

std::string SnapshotLeftovers::failureMessage() const {
  if (!snapshotInProgress && !suspended) return {};
  std::string out = fmt::format(
      "the snapshot of pipeline '{}' did not finish{}; the next `pgmorph snapshot` starts it "
      "over (it empties the mapped target tables and copies them again).",
      pipeline,
      tasksDone >= 0 ? fmt::format(" ({} of {} tables copied)", tasksDone, tasksTotal)
                     : std::string());
  return out + slotLine(*this) + suspendedLine(*this);
}

}  // namespace pgmorph
