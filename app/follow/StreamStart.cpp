#include "app/follow/StreamStart.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cdc/SlotManager.h"
#include "cdc/model/Errors.h"

namespace pgmorph {

StreamStart resolveStreamStart(const PipelineConfig& config, const std::optional<Checkpoint>& cp) {
  const std::string& slot = config.source.slot;
  // libpq would take an empty conninfo as "the local default server": never connect with it.
  if (config.source.conninfo.empty())
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("pipeline '{}' has no source.conninfo: streaming from slot "
                                   "'{}' needs the source database's connection string",
                                   config.pipeline, slot));
  SlotManager slots(config.source.conninfo);
  slots.checkSource();
  auto info = slots.inspect(slot);
  if (!info) {
    if (cp)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("the target's checkpoint for pipeline '{}' is at {}, but slot '{}' does not "
                      "exist on the source: the changes after {} can no longer be streamed. Take a "
                      "new snapshot into an empty target (for a throwaway target: DELETE FROM "
                      "{}.checkpoint WHERE pipeline = '{}') and start again.",
                      config.pipeline, cp->lsn.str(), slot, cp->lsn.str(),
                      config.target.stateSchema, config.pipeline));
    CreatedSlot created = slots.create(slot);
    spdlog::info("created replication slot '{}' (wal2json) at {}", slot,
                 created.consistentPoint.str());
    return {created.consistentPoint, created.consistentPoint};
  }
  if (info->plugin != "wal2json")
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("slot '{}' uses plugin '{}', not wal2json: pick another slot "
                                   "name in source.slot or drop that slot",
                                   slot, info->plugin));
  if (info->walStatus == "lost")
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("slot '{}' is lost (the source removed WAL it still needed, see "
                                   "max_slot_wal_keep_size): drop it and take a new snapshot",
                                   slot));
  if (cp && info->confirmedFlush > cp->lsn) {
    // The changes between the checkpoint and the slot's confirmed position can only come from
    // the journal: it must hold every transaction committing after the checkpoint, up to at
    // least the confirmed position (a journal that lost its tail cannot fill the gap either).
    std::optional<JournalRange> journal;
    if (config.journal.enabled()) journal = JournalRange::read(config.journal.dir);
    bool covered = journal && !journal->empty && journal->start <= cp->lsn &&
                   journal->end >= info->confirmedFlush;
    if (!covered)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("slot '{}' has confirmed {} but the target's checkpoint is at {}: the "
                      "changes in between were consumed without being applied here (a target "
                      "restored from an older backup? was the slot dropped and re-created, or "
                      "used by another consumer?), and {}. Changes were lost; take a new snapshot "
                      "into an empty target.",
                      slot, info->confirmedFlush.str(), cp->lsn.str(),
                      journal ? journal->describe() + ", which does not cover them"
                              : std::string("no journal is configured (journal: in the pipeline "
                                            "file) that could hold them")));
    spdlog::info(
        "slot '{}' has confirmed {}, past the target's checkpoint {}: {}; the changes in "
        "between are applied from it first",
        slot, info->confirmedFlush.str(), cp->lsn.str(), journal->describe());
  }
  if (info->active)
    throw PgmorphError(ErrorClass::Transient,
                       fmt::format("slot '{}' is in use: another pgmorph (or another consumer, or "
                                   "a previous pgmorph that has not gone away yet) is streaming "
                                   "it; the walsender serving it on the source has PID {} (SELECT "
                                   "application_name, client_addr FROM pg_stat_replication WHERE "
                                   "pid = {} says who it streams to). Waiting for it to be "
                                   "released.",
                                   slot, info->activePid, info->activePid));
  return {cp ? cp->lsn : info->confirmedFlush, info->confirmedFlush};
}

}  // namespace pgmorph
