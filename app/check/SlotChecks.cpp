#include "app/check/SlotChecks.h"

#include <fmt/format.h>

#include "cdc/SlotManager.h"
#include "state/CheckpointStore.h"
#include "state/SnapshotStore.h"

namespace pgmorph {

SlotChecks::SlotChecks(const PipelineConfig& config, PgConnection& source, PgConnection& target)
    : config_(config), source_(source), target_(target) {}

void SlotChecks::run(CheckReport& report, const StateSchemaInfo& state) {
  const std::string& name = config_.source.slot;
  PlanSlot& slot = report.plan().slot;
  slot.name = name;

  std::optional<Checkpoint> cp;
  if (state.checkpointTable)
    cp = CheckpointStore(config_.target.stateSchema, config_.pipeline).load(target_);
  bool snapshotInProgress = false;
  if (state.snapshotTable) {
    auto rec = SnapshotStore(config_.target.stateSchema, config_.pipeline).load(target_);
    snapshotInProgress = rec && rec->status == SnapshotStatus::InProgress;
  }
  if (cp) slot.checkpoint = cp->lsn;

  SlotManager slots(config_.source.conninfo);
  for (auto& problem : slots.slotProblems(name))
    report.add({Severity::Error, Side::Slot, "", "", 0, std::move(problem), ""});
  auto info = slots.inspect(name);
  std::string startOver = fmt::format(
      "take a new snapshot into an empty target (for a throwaway target: DELETE FROM "
      "{}.checkpoint WHERE pipeline = '{}', then pgmorph snapshot)",
      config_.target.stateSchema, config_.pipeline);
  if (!info) {
    if (cp && !snapshotInProgress)
      report.add({Severity::Error, Side::Slot, "", "", 0,
                  fmt::format("the target's checkpoint is at {}, but the slot does not exist on "
                              "the source: the changes after {} can no longer be streamed",
                              cp->lsn.str(), cp->lsn.str()),
                  startOver});
    else
      report.add({Severity::Info, Side::Slot, "", "", 0,
                  "does not exist yet: the first snapshot (or follow) creates it", ""});
    return;
  }
  slot.exists = true;
  slot.plugin = info->plugin;
  slot.active = info->active;
  slot.walStatus = info->walStatus;
  if (!info->confirmedFlush.isZero()) slot.confirmedFlush = info->confirmedFlush;
  Lsn current = Lsn::parse(source_.exec("SELECT pg_current_wal_lsn()::text").value(0, 0));
  if (!info->restartLsn.isZero() && current >= info->restartLsn)
    slot.retainedWalBytes = current.value() - info->restartLsn.value();

  report.add({Severity::Info, Side::Slot, "", "", 0,
              fmt::format(
                  "exists: plugin {}, {}, confirmed_flush_lsn {}, restart_lsn {}{}{}", info->plugin,
                  info->active ? "active (a consumer is streaming from it now)" : "not active",
                  info->confirmedFlush.str(), info->restartLsn.str(),
                  slot.retainedWalBytes ? fmt::format(", makes the source keep {} bytes of WAL",
                                                      *slot.retainedWalBytes)
                                        : "",
                  info->walStatus.empty() ? "" : ", wal_status " + info->walStatus),
              ""});
  std::uint64_t limit = config_.slot.maxRetainedWalBytes;
  if (limit && slot.retainedWalBytes && *slot.retainedWalBytes > limit)
    report.add({Severity::Warning, Side::Slot, "", "", 0,
                fmt::format("the slot makes the source keep {} bytes of WAL, more than "
                            "slot.max_retained_wal ({} bytes)",
                            *slot.retainedWalBytes, limit),
                "start pgmorph follow (or find what holds it back: pgmorph status); drop the "
                "slot if this pipeline is abandoned"});
  if (cp && !snapshotInProgress && info->confirmedFlush > cp->lsn)
    report.add({Severity::Error, Side::Slot, "", "", 0,
                fmt::format("the slot has confirmed {} but the target's checkpoint is at {}: the "
                            "changes in between were consumed without being applied here (was "
                            "the slot re-created, or used by another consumer?)",
                            info->confirmedFlush.str(), cp->lsn.str()),
                startOver});
}

}  // namespace pgmorph
