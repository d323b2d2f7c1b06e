#include "app/journal/JournalStreamer.h"

#include <poll.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/follow/Heartbeat.h"
#include "app/journal/JournalTee.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/ReplicationStream.h"
#include "cdc/SlotManager.h"
#include "cdc/Wal2JsonDecoder.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
// Batched durability: a sync costs an fdatasync; the slot is confirmed after each.
constexpr auto kSyncInterval = 100ms;
constexpr std::uint64_t kSyncBytes = 4u << 20;
}  // namespace

JournalStreamer::JournalStreamer(const PipelineConfig& config, JournalWriter& writer,
                                 boost::asio::io_context& io, const StopFlag& stop,
                                 std::set<std::string>& forced)
    : config_(config), writer_(writer), io_(io), stop_(stop), forced_(forced) {}

Lsn JournalStreamer::resolveStart() {
  const std::string& slot = config_.source.slot;
  const std::string& dir = config_.journal.dir;
  SlotManager slots(config_.source.conninfo);
  slots.checkSource();
  auto info = slots.inspect(slot);
  if (!info) {
    if (!writer_.empty())
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("the journal in {} holds the changes up to {}, but slot '{}' does not exist "
                      "on the source: what committed after {} can no longer be streamed. Move "
                      "the journal directory away to start a new journal (the pipelines reading "
                      "it need a new snapshot), or restore the slot.",
                      dir, writer_.end().str(), slot, writer_.end().str()));
    CreatedSlot created = slots.create(slot);
    spdlog::info("created replication slot '{}' (wal2json) at {}", slot,
                 created.consistentPoint.str());
    writer_.startAt(created.consistentPoint);
    return created.consistentPoint;
  }
  if (info->plugin != "wal2json")
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("slot '{}' uses plugin '{}', not wal2json: pick another slot "
                                   "name in source.slot or drop that slot",
                                   slot, info->plugin));
  if (info->walStatus == "lost")
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("slot '{}' is lost (the source removed WAL it still needed, see "
                                   "max_slot_wal_keep_size): drop it, move the journal in {} away "
                                   "and take new snapshots of the pipelines reading it",
                                   slot, dir));
  // An empty journal begins where the slot stands: everything committing after its confirmed
  // position is still in the slot, and the journal says it holds exactly that.
  if (writer_.empty()) writer_.startAt(info->confirmedFlush);
  if (info->confirmedFlush > writer_.end())
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("slot '{}' has confirmed {} but the journal in {} ends at {}: the journal has "
                    "a hole — the changes in between were consumed by someone else (another "
                    "consumer of the slot, or a follow that confirms the same slot) and are in "
                    "neither. Give `pgmorph journal` a slot of its own, move the journal "
                    "directory away and take new snapshots of the pipelines reading it.",
                    slot, info->confirmedFlush.str(), dir, writer_.end().str()));
  if (info->active)
    throw PgmorphError(ErrorClass::Transient,
                       fmt::format("slot '{}' is in use: another pgmorph (or another consumer, or "
                                   "a previous pgmorph that has not gone away yet) is streaming "
                                   "it; the walsender serving it on the source has PID {}. "
                                   "Waiting for it to be released.",
                                   slot, info->activePid));
  return writer_.end();
}

void JournalStreamer::run(const JournalCommandOptions& options,
                          const std::function<void()>& onStreaming) {
  Lsn start = resolveStart();
  Heartbeat heartbeat(config_.pipeline, config_.source.slot,
                      std::chrono::milliseconds(config_.slot.heartbeatIntervalMillis));
  ReplicationStream stream(config_.source.conninfo, config_.source.slot);
  // What the journal holds durably; the slot resends anything after it.
  writer_.sync();
  stream.setFlushed(writer_.durableEnd());
  stream.start(start, heartbeat.enabled() ? Wal2JsonDecoder::pluginOptions(heartbeat.prefix())
                                          : Wal2JsonDecoder::pluginOptions());
  PgConnection sourceSql(config_.source.conninfo, "source");
  spdlog::info("journaling slot '{}' into {} from {}", config_.source.slot, config_.journal.dir,
               start.str());
  if (onStreaming) onStreaming();
  if (options.metrics) {
    options.metrics->health().streaming();
    options.metrics->registry().set("pgmorph_streaming", 1);
  }

  JournalTee tee(writer_);
  Wal2JsonDecoder decoder;
  Change change;
  std::uint64_t unsyncedBytes = 0, transactions = 0, lastTransactions = 0;
  bool dirty = false;
  auto now = Clock::now();
  auto lastSync = now, lastStatus = now, lastRetention = now, lastProgress = now, lastMetrics = now;
  auto nextHeartbeat = now;  // the first at once: an idle source starts moving at once

  // Durable first, then confirmed: the source may discard WAL up to what we report.
  auto syncAndConfirm = [&] {
    if (dirty) {
      writer_.sync();
      dirty = false;
      unsyncedBytes = 0;
    }
    lastSync = Clock::now();
    stream.setFlushed(writer_.durableEnd());
  };
  // Nothing in flight and the walsender has sent everything before `position`: record it.
  auto advanceIdle = [&](Lsn position) {
    if (tee.inTransaction() || position <= writer_.end()) return;
    writer_.advance(position);
    dirty = true;
    syncAndConfirm();
  };
  auto retention = [&] {
    auto r = writer_.applyRetention();
    if (r.removedSegments)
      spdlog::info(
          "journal retention removed {} segment(s), {} bytes; the journal now starts at {}",
          r.removedSegments, r.removedBytes, writer_.start().str());
    // Said once per consumer left behind (every later round deletes more of what it has not
    // applied, which changes nothing for it), and again if it is caught up and left behind anew.
    std::vector<std::string> fresh;
    for (const auto& n : r.forcedPast)
      if (forced_.insert(n).second) fresh.push_back(n);
    if (!fresh.empty()) {
      std::string names;
      for (const auto& n : fresh) names += (names.empty() ? "" : ", ") + n;
      spdlog::error(
          "journal retention (journal.retain_bytes) deleted changes that consumer(s) {} had not "
          "applied yet: they cannot catch up from the journal any more (it now starts at {}); "
          "they need a new snapshot. Raise journal.retain_bytes, or stop a consumer that is gone "
          "with `rm {}/consumers/<name>.pos`.",
          names, writer_.start().str(), config_.journal.dir);
      if (options.metrics) options.metrics->onJournalForcedRetention(fresh);
    }
    for (const auto& c : JournalConsumers(config_.journal.dir).list())
      if (c.applied >= writer_.start()) forced_.erase(c.name);
  };

  try {
    for (;;) {
      io_.restart();
      io_.poll();  // signals
      if (stop_.requested()) break;
      pollfd pfd{stream.socket(), POLLIN, 0};
      ::poll(&pfd, 1, 50);
      auto sliceEnd = Clock::now() + 50ms;
      while (Clock::now() < sliceEnd) {
        auto msg = stream.poll();
        if (!msg) break;
        decoder.decode(msg->payload, msg->dataStart, change);
        tee.onMessage(change, msg->dataStart, msg->payload);
        if (change.kind == ChangeKind::Commit) {
          ++transactions;
          dirty = true;
        }
        unsyncedBytes += msg->payload.size();
        if (change.kind == ChangeKind::Message)
          if (auto beat = heartbeat.onMessage(change, msg->dataStart, Clock::now())) {
            if (options.metrics && beat->roundTripSeconds >= 0)
              options.metrics->onHeartbeat(beat->roundTripSeconds);
            advanceIdle(beat->lsn);
          }
        if (!tee.inTransaction() && dirty && unsyncedBytes >= kSyncBytes) syncAndConfirm();
      }
      now = Clock::now();
      if (!tee.inTransaction() && (dirty || writer_.durableEnd() > stream.flushed()) &&
          now - lastSync >= kSyncInterval)
        syncAndConfirm();
      if (now - lastStatus >= std::chrono::milliseconds(config_.apply.statusIntervalMillis)) {
        lastStatus = now;
        // Idle: the server has sent everything up to its WAL end (the rule follow uses).
        if (!tee.inTransaction()) advanceIdle(stream.serverWalEnd());
        stream.sendStatus(false);
      }
      if (heartbeat.enabled() && now >= nextHeartbeat) {
        heartbeat.emit(sourceSql, now);
        const std::string& stall = heartbeat.checkStall(now, stream.received());
        if (options.metrics) options.metrics->onHeartbeatStall(stall);
        nextHeartbeat = now + heartbeat.interval();
      }
      if (now - lastRetention >= options.retentionInterval && !tee.inTransaction()) {
        lastRetention = now;
        retention();
      }
      if (options.metrics && now - lastMetrics >= 1s) {
        lastMetrics = now;
        options.metrics->onJournal(JournalReader(config_.journal.dir).info());
      }
      if (now - lastProgress >= options.progressInterval) {
        lastProgress = now;
        if (transactions != lastTransactions || dirty)
          spdlog::info("journal: {} transaction(s) written this session, end {}, durable {}",
                       transactions, writer_.end().str(), writer_.durableEnd().str());
        lastTransactions = transactions;
      }
    }
  } catch (...) {
    // Half a transaction is dropped (the slot resends it); what is whole is kept and synced.
    tee.abandon();
    try {
      writer_.sync();
    } catch (...) {
    }
    throw;
  }
  tee.abandon();
  writer_.sync();
  stream.setFlushed(writer_.durableEnd());
  stream.sendStatus(false);
  stream.stop();
  spdlog::info("journal stopped at {} (confirmed to slot '{}')", writer_.durableEnd().str(),
               config_.source.slot);
}

}  // namespace pgmorph
