#include "app/journal/JournalSnapshot.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "app/journal/JournalFollower.h"
#include "cdc/model/Errors.h"
#include "state/journal/Journal.h"

namespace pgmorph {

ExportedSnapshotSlot JournalSnapshot::createSlot(const PipelineConfig& config) {
  if (config.source.conninfo.empty())
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("pipeline '{}' reads the journal in {}, but its snapshot copies from the "
                    "source: set source.conninfo in {} (the journal alone cannot give a first "
                    "copy of the tables)",
                    config.pipeline, config.source.journal, config.file));
  if (!std::filesystem::exists(config.source.journal))
    throw PgmorphError(ErrorClass::Transient,
                       fmt::format("the journal directory {} (source.journal) does not exist yet: "
                                   "start `pgmorph journal` for it first. Waiting for it.",
                                   config.source.journal));
  // Named after the pipeline's slot name, which no slot of the source uses for a journal reader.
  std::string slot = config.source.slot.substr(0, 58) + "_snap";
  spdlog::info("pipeline '{}' reads a journal: its snapshot is pinned by the temporary slot '{}'",
               config.pipeline, slot);
  return ExportedSnapshotSlot::create(config.source.conninfo, slot,
                                      ExportedSnapshotSlot::Lifetime::Temporary);
}

void JournalSnapshot::holdPosition(const PipelineConfig& config, Lsn point) {
  JournalConsumers(config.source.journal).record(config.pipeline, point);
  requireCovered(config, point);
}

void JournalSnapshot::requireCovered(const PipelineConfig& config, Lsn point) {
  JournalReader reader(config.source.journal);
  if (reader.start() > point)
    throw PgmorphError(ErrorClass::Operator,
                       JournalFollower::gapMessage(config, point, reader.start(), reader.end()));
}

}  // namespace pgmorph
