#include "app/replay/ReplayCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/StopFlag.h"
#include "app/follow/ApplyStats.h"
#include "app/follow/ApplyTarget.h"
#include "app/follow/FollowCommand.h"
#include "app/follow/TransactionApplier.h"
#include "app/journal/JournalApply.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "state/journal/Journal.h"
#include "transform/Transformer.h"

namespace pgmorph {

namespace {

std::string journalDir(const PipelineConfig& config) {
  if (config.journal.enabled()) return config.journal.dir;
  if (config.source.readsJournal()) return config.source.journal;
  throw PgmorphError(ErrorClass::Operator,
                     fmt::format("pipeline '{}' has no journal (journal: {{ dir: ... }} in the "
                                 "pipeline file): replay applies the journal's transactions, and "
                                 "a slot cannot be rewound",
                                 config.pipeline));
}

std::string rangeOf(const JournalReader& reader, const std::string& dir) {
  if (reader.end() == Lsn()) return fmt::format("the journal in {} holds nothing yet", dir);
  return fmt::format("the journal in {} holds the transactions committing after {} up to {}", dir,
                     reader.start().str(), reader.end().str());
}

// Puts the target's checkpoint at `from`, or refuses. See the header for the rules.
void placeCheckpoint(const PipelineConfig& config, const ReplayOptions& options,
                     PgConnection& target, const CheckpointStore& store) {
  std::optional<Checkpoint> cp = store.load(target);
  Lsn from = options.from;
  if (cp && cp->lsn == from) return;
  if (!cp) {
    spdlog::info(
        "the target has no checkpoint for pipeline '{}': it is taken to be at {} (a "
        "restored or emptied target)",
        config.pipeline, from.str());
  } else if (cp->lsn > from) {
    if (!options.force)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("the target's checkpoint for pipeline '{}' is at {}, past {}: it has "
                      "applied the transactions in between already. Replay from {} (--from-lsn "
                      "{}), or add --force to move the checkpoint back to {} and apply them again",
                      config.pipeline, cp->lsn.str(), from.str(), cp->lsn.str(), cp->lsn.str(),
                      from.str()));
    spdlog::warn(
        "--force: moving the checkpoint of pipeline '{}' back from {} to {} and applying the "
        "transactions after {} again. Rows end as the source has them (upserts; a delete of a row "
        "already gone does nothing), but a row changed on the target by hand since is "
        "overwritten, and a change parked the first time may be parked again (pgmorph parked "
        "list shows it; it is retried when its parent arrives)",
        config.pipeline, cp->lsn.str(), from.str(), from.str());
  } else {
    if (!options.force)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("the target's checkpoint for pipeline '{}' is at {}, before {}: the "
                      "transactions committing in between would never be applied (a gap). Replay "
                      "from {} (--from-lsn {}); or, if the target really holds everything up to {} "
                      "(a backup restored over an older state row), add --force to move the "
                      "checkpoint to {}",
                      config.pipeline, cp->lsn.str(), from.str(), cp->lsn.str(), cp->lsn.str(),
                      from.str(), from.str()));
    spdlog::warn(
        "--force: moving the checkpoint of pipeline '{}' from {} forward to {}: the "
        "transactions committing in between are taken to be on the target already",
        config.pipeline, cp->lsn.str(), from.str());
  }
  target.exec("BEGIN");
  store.rewind(target, from, config.source.slot);
  target.exec("COMMIT");
}

}  // namespace

int ReplayCommand::run(const PipelineConfig& config, const ReplayOptions& options) {
  std::string dir = journalDir(config);
  if (options.until && *options.until <= options.from)
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("--until-lsn {} is not after --from-lsn {}: nothing to replay",
                                   options.until->str(), options.from.str()));
  JournalReader reader(dir);
  if (reader.start() > options.from || reader.end() < options.from || reader.end() == Lsn())
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("the journal does not cover --from-lsn {}: {}. Choose an LSN in "
                                   "that range",
                                   options.from.str(), rangeOf(reader, dir)));
  ApplyStats stats;
  bool reachedUntil = false;
  {
    PgConnection target = openApplyTarget(config);
    requireLoadedTarget(target, config);
    CheckpointStore store(config.target.stateSchema, config.pipeline);
    store.ensureSchema(target);
    placeCheckpoint(config, options, target, store);

    Transformer transformer(config);
    TargetWriter writer(target, store, config.source.slot);
    TransactionApplier applier(config, transformer, writer, options.from, stats);
    spdlog::info("replaying {} from {}{}", rangeOf(reader, dir), options.from.str(),
                 options.until ? fmt::format(" until {}", options.until->str()) : "");
    JournalApply replay(reader, applier);
    StopFlag never;  // SIGINT ends the process: the open target transaction rolls back
    auto started = std::chrono::steady_clock::now();
    JournalApply::Pass pass = replay.applyAvailable(options.until, never);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    reachedUntil = pass.reachedUntil;
    spdlog::info(
        "replayed {} transaction(s), {} row change(s) from the journal in {:.1f} s; "
        "checkpoint {}",
        pass.transactions, stats.changesApplied, seconds, applier.checkpoint().str());
  }
  if (reachedUntil) return 0;
  // The journal's end: go on from the slot (and whatever the journal gained meanwhile) as
  // follow does, up to --until-lsn when given.
  if (config.source.conninfo.empty()) {
    spdlog::info("replayed to the journal's end; no source.conninfo to follow live from");
    return 0;
  }
  FollowOptions follow;
  follow.untilLsn = options.until;
  return FollowCommand(config).follow(follow, false);
}

}  // namespace pgmorph
