#include "app/journal/JournalFollower.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "app/follow/ApplyTarget.h"
#include "app/follow/ProgressMeter.h"
#include "app/follow/TransactionApplier.h"
#include "app/journal/JournalApply.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "state/journal/Journal.h"
#include "transform/Transformer.h"

namespace pgmorph {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kIdleWait = 150ms;  // the journal had nothing new: look again after this
constexpr auto kRecordEvery = 1s;  // JournalConsumers::record at most this often
}  // namespace

JournalFollower::JournalFollower(const PipelineConfig& config, boost::asio::io_context& io,
                                 const StopFlag& stop, ApplyStats& stats)
    : config_(config), io_(io), stop_(stop), stats_(stats) {}

std::string JournalFollower::gapMessage(const PipelineConfig& config, Lsn checkpoint, Lsn start,
                                        Lsn end) {
  return fmt::format(
      "pipeline '{}' has applied up to {}, but the journal in {} holds only the transactions "
      "committing after {} (up to {}): the changes in between are gone from it (retention, see "
      "journal.retain_bytes / retain_age, or a journal started after this target). This target "
      "cannot catch up from the journal: take a new snapshot into an empty target (`pgmorph "
      "snapshot` or `pgmorph run`; for a throwaway target: DELETE FROM {}.checkpoint WHERE "
      "pipeline = '{}' and empty the mapped tables first).",
      config.pipeline, checkpoint.str(), config.source.journal, start.str(), end.str(),
      config.target.stateSchema, config.pipeline);
}

FollowEnd JournalFollower::run(const FollowOptions& options) {
  const std::string& dir = config_.source.journal;
  PgConnection target = openApplyTarget(config_);
  CheckpointStore store(config_.target.stateSchema, config_.pipeline);
  store.ensureSchema(target);
  std::optional<Checkpoint> cp = store.load(target);
  requireLoadedTarget(target, config_);
  if (!std::filesystem::exists(dir))
    throw PgmorphError(ErrorClass::Transient,
                       fmt::format("the journal directory {} (source.journal) does not exist yet: "
                                   "is `pgmorph journal` running for it? Waiting for it.",
                                   dir));
  JournalReader reader(dir);
  Lsn checkpoint;
  if (cp) {
    checkpoint = cp->lsn;
  } else {
    // No snapshot and no checkpoint: everything the journal holds. Recorded at once so that a
    // later retention past it is seen as the gap it is.
    checkpoint = reader.start();
    spdlog::info("pipeline '{}' has no checkpoint: applying the journal from its start, {}",
                 config_.pipeline, checkpoint.str());
    target.exec("BEGIN");
    store.save(target, checkpoint, config_.source.slot, 0);
    target.exec("COMMIT");
  }
  stats_.checkpoint = checkpoint;
  if (options.untilLsn && checkpoint >= *options.untilLsn) return FollowEnd::ReachedTarget;

  Transformer transformer(config_);
  TargetWriter writer(target, store, config_.source.slot);
  TransactionApplier applier(config_, transformer, writer, checkpoint, stats_);
  applier.setMetrics(options.metrics);
  std::optional<JournalApply> apply;
  try {
    apply.emplace(reader, applier);
  } catch (const JournalGap& gap) {
    throw PgmorphError(ErrorClass::Operator, gapMessage(config_, checkpoint, gap.start, gap.end));
  }
  JournalConsumers consumers(dir);
  consumers.record(config_.pipeline, checkpoint);
  spdlog::info("applying journal {} from {}{}", dir, checkpoint.str(),
               options.untilLsn ? fmt::format(" until {}", options.untilLsn->str()) : "");
  // The source's position, only when the file says where the source is (never a default
  // connection); else the journal's end stands for it.
  std::optional<PgConnection> source;
  if (!config_.source.conninfo.empty()) source.emplace(config_.source.conninfo, "source");
  auto sourceCurrent = [&] {
    if (source) return Lsn::parse(source->exec("SELECT pg_current_wal_lsn()::text").value(0, 0));
    return reader.end();
  };
  if (options.metrics) {
    options.metrics->health().streaming();
    options.metrics->registry().set("pgmorph_streaming", 1);
  }
  if (options.onStreaming) options.onStreaming();

  ProgressMeter progress(stats_);
  auto lastProgress = Clock::now(), lastMetrics = Clock::now(), lastRecord = Clock::now();
  Lsn recorded = checkpoint;
  auto record = [&](bool now) {
    if (applier.checkpoint() == recorded) return;
    if (!now && Clock::now() - lastRecord < kRecordEvery) return;
    consumers.record(config_.pipeline, applier.checkpoint());
    recorded = applier.checkpoint();
    lastRecord = Clock::now();
  };
  FollowEnd end = FollowEnd::Stopped;
  try {
    for (;;) {
      io_.restart();
      io_.poll();  // signals
      if (stop_.requested()) break;
      JournalApply::Pass pass = apply->applyAvailable(options.untilLsn, stop_);
      stats_.checkpoint = applier.checkpoint();
      record(false);
      auto now = Clock::now();
      if ((options.metrics || options.onSample) && now - lastMetrics >= 1s) {
        lastMetrics = now;
        Lsn current = sourceCurrent();
        if (options.metrics) {
          options.metrics->onProgress(stats_, current, std::nullopt);
          options.metrics->onJournal(reader.info());
        }
        if (options.onSample) options.onSample(stats_, current);
      }
      if (now - lastProgress >= options.progressInterval) {
        lastProgress = now;
        if (progress.due()) progress.log(sourceCurrent());
      }
      if (pass.reachedUntil) {
        end = FollowEnd::ReachedTarget;
        break;
      }
      if (pass.stopped) break;
      if (pass.transactions == 0) {
        // Nothing new: wait in short steps so that a stop is seen at once.
        for (auto waited = 0ms; waited < kIdleWait && !stop_.requested(); waited += 50ms) {
          std::this_thread::sleep_for(50ms);
          io_.restart();
          io_.poll();
        }
      }
    }
  } catch (const JournalGap& gap) {
    applier.abort();
    throw PgmorphError(ErrorClass::Operator,
                       gapMessage(config_, applier.checkpoint(), gap.start, gap.end));
  } catch (...) {
    applier.abort();
    throw;
  }
  applier.commitIfPossible();
  stats_.checkpoint = applier.checkpoint();
  record(true);
  progress.log(sourceCurrent());
  return end;
}

}  // namespace pgmorph
