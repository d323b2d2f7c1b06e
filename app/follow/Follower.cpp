#include "app/follow/Follower.h"
#include "app/follow/ApplyTarget.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <optional>

#include "app/follow/FollowJournal.h"
#include "app/follow/Heartbeat.h"
#include "app/follow/JournalStart.h"
#include "app/follow/ProgressMeter.h"
#include "app/follow/StreamStart.h"
#include "app/follow/TransactionApplier.h"
#include "app/follow/VerifyPause.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/ReplicationStream.h"
#include "cdc/Wal2JsonDecoder.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "transform/Transformer.h"

namespace pgmorph {

namespace asio = boost::asio;
using namespace std::chrono_literals;

Follower::Follower(const PipelineConfig& config, asio::io_context& io, const StopFlag& stop,
                   ApplyStats& stats)
    : config_(config), io_(io), stop_(stop), stats_(stats) {}

FollowEnd Follower::run(const FollowOptions& options) {
  PgConnection target = openApplyTarget(config_);
  CheckpointStore store(config_.target.stateSchema, config_.pipeline);
  store.ensureSchema(target);
  std::optional<Checkpoint> cp = store.load(target);
  requireLoadedTarget(target, config_);
  auto [start, confirmedFlush] = resolveStreamStart(config_, cp);
  // Opened (and recovered) once the slot is known to be free: a previous pgmorph that has not
  // gone away yet is waited for (the slot is in use), not refused on the journal's lock.
  std::optional<FollowJournal> journal;
  if (config_.journal.enabled()) journal.emplace(config_);
  if (!cp) {
    // Record the starting point at once, so that a slot dropped behind our back is detected
    // even before the first transaction is applied.
    target.exec("BEGIN");
    store.save(target, start, config_.source.slot, 0);
    target.exec("COMMIT");
  }
  Lsn checkpoint = cp ? cp->lsn : start;
  if (options.untilLsn && checkpoint >= *options.untilLsn) {
    stats_.checkpoint = checkpoint;
    return FollowEnd::ReachedTarget;
  }

  Transformer transformer(config_);
  TargetWriter writer(target, store, config_.source.slot);
  TransactionApplier applier(config_, transformer, writer, checkpoint, stats_);
  applier.setMetrics(options.metrics);
  // Where the stream starts: the checkpoint, or after the journal's gap fill (JournalStart.h).
  Lsn streamFrom = checkpoint;
  if (journal) {
    JournalStart js =
        prepareJournal(*journal, applier, options, confirmedFlush, config_.source.slot, stop_, io_);
    if (js.ended) return *js.ended;
    checkpoint = applier.checkpoint();
    streamFrom = js.streamFrom;
  }
  Heartbeat heartbeat(config_.pipeline, config_.source.slot,
                      std::chrono::milliseconds(config_.slot.heartbeatIntervalMillis));
  ReplicationStream stream(config_.source.conninfo, config_.source.slot);
  // What may be confirmed to the source: the target's checkpoint, or with a journal what
  // FollowJournal::confirmable() says (confirm: journal | target; it syncs the journal first).
  auto confirmable = [&] {
    return journal ? journal->confirmable(applier.checkpoint()) : applier.checkpoint();
  };
  stream.setFlushed(confirmable());
  stream.start(streamFrom, heartbeat.enabled() ? Wal2JsonDecoder::pluginOptions(heartbeat.prefix())
                                               : Wal2JsonDecoder::pluginOptions());
  spdlog::info("streaming slot '{}' from {}{}", config_.source.slot, streamFrom.str(),
               options.untilLsn ? fmt::format(" until {}", options.untilLsn->str()) : "");

  PgConnection sourceSql(config_.source.conninfo, "source");
  if (options.metrics) {
    options.metrics->health().streaming();
    options.metrics->registry().set("pgmorph_streaming", 1);
  }
  if (options.onStreaming) options.onStreaming();
  ProgressMeter progress(stats_);
  Wal2JsonDecoder decoder;
  Change change;

  asio::io_context& io = io_;
  io.restart();
  asio::posix::stream_descriptor socket(io, ::dup(stream.socket()));
  asio::steady_timer statusTimer(io), progressTimer(io), stopTimer(io), metricsTimer(io),
      heartbeatTimer(io), journalTimer(io), drainTimer(io);
  FollowEnd end = FollowEnd::Stopped;
  bool finished = false;

  auto finish = [&](FollowEnd how) {
    if (finished) return;
    finished = true;
    end = how;
    io.stop();
  };
  auto reportFlushed = [&] {
    // The source may discard WAL up to what we confirm: confirm only what the target committed
    // (or, with confirm: journal, what the journal has made durable: confirmable()).
    stream.setFlushed(confirmable());
  };
  // Fence: set once nothing that commits before options.fenceLsn can still arrive.
  bool fenceReached = false;
  auto reached = [&] {
    return fenceReached || (options.untilLsn && applier.checkpoint() >= *options.untilLsn);
  };
  // A running verify's pause (VerifyPause.h); not when this follower is verify's own apply.
  std::function<void()> onPause;
  VerifyPause pause(config_, io, [&] {
    if (!finished && onPause) onPause();
  });
  if (!options.fenceLsn) pause.start();
  // The Begin of the first transaction past verify's fence, decoded but not applied yet.
  bool stashed = false;
  auto fence = [&] { return options.fenceLsn ? options.fenceLsn : pause.fence(); };
  // Nothing received is unapplied and the server has sent everything up to the fence: every
  // transaction committing before it has been applied (the walsender sends in commit order).
  auto idleAtFence = [&] {
    auto f = fence();
    return f && !applier.inSourceTransaction() && !applier.hasPendingCommits() &&
           stream.serverWalEnd() >= *f;
  };
  // Idle source: everything received is applied and nothing is in flight, so the server's sent
  // position (a keepalive's walEnd: the walsender has decoded the WAL up to there and sent every
  // transaction that committed before it) can be recorded and then confirmed.
  auto advanceToServer = [&] {
    if (applier.inSourceTransaction() || applier.hasPendingCommits() || stashed ||
        pause.holding() || stream.serverWalEnd() <= applier.checkpoint())
      return;
    applier.advanceIdle(stream.serverWalEnd());
    if (journal) journal->advance(stream.serverWalEnd());
    reportFlushed();
  };
  auto holdNow = [&] {
    if (applier.commitIfPossible()) reportFlushed();
    pause.held(applier.checkpoint());
  };
  // One of our heartbeats came back: the walsender has decoded the WAL before it and sent us
  // every transaction that committed there (it sends a transaction when it decodes its commit,
  // and this message when it decodes it, in WAL order). So when nothing received is unapplied,
  // the checkpoint may move to the heartbeat. Not inside a transaction's output, nor with
  // commits received but not yet committed on the target (those go first). A transaction
  // still open on the source at the heartbeat commits after it: it is not skipped (its commit
  // is past the checkpoint) and the slot still has it (restart_lsn stays before its start).
  auto onHeartbeat = [&](const Heartbeat::Received& beat) {
    if (options.metrics && beat.roundTripSeconds >= 0)
      options.metrics->onHeartbeat(beat.roundTripSeconds);
    if (applier.inSourceTransaction()) return;
    // Held for verify: the checkpoint stays where the follower told verify it is.
    if (pause.holding() || stashed) return;
    if (applier.commitIfPossible()) reportFlushed();
    if (applier.hasPendingCommits()) return;
    applier.advanceIdle(beat.lsn, beat.sourceMicros);
    // Everything committing before the heartbeat was received, and fed to the journal first.
    if (journal) journal->advance(beat.lsn);
    reportFlushed();
  };
  // slot.max_retained_wal: one warning when the slot's retained WAL crosses it, one line when
  // it is back under (and the metrics gauges on every reading).
  bool overRetainedLimit = false;
  auto watchRetained = [&](std::optional<std::uint64_t> retained) {
    std::uint64_t limit = config_.slot.maxRetainedWalBytes;
    if (limit == 0 || !retained) return;
    if (options.metrics) options.metrics->onRetainedWalLimit(*retained, limit);
    bool over = *retained > limit;
    if (over == overRetainedLimit) return;
    overRetainedLimit = over;
    if (over)
      spdlog::warn(
          "slot '{}' makes the source keep {} bytes of WAL, above slot.max_retained_wal "
          "({} bytes): the target is behind, or something holds the slot back",
          config_.source.slot, *retained, limit);
    else
      spdlog::info("slot '{}' keeps {} bytes of WAL, back under slot.max_retained_wal ({} bytes)",
                   config_.source.slot, *retained, limit);
  };
  // The source's current WAL position and what the slot retains (one query).
  auto readSource = [&] {
    // The slot name is checked by the loader ([a-z0-9_]): safe as a literal.
    PgResult r = sourceSql.exec(fmt::format(
        "SELECT pg_current_wal_lsn()::text, (SELECT (pg_current_wal_lsn() - restart_lsn)::text "
        "FROM pg_replication_slots WHERE slot_name = '{}')",
        config_.source.slot));
    std::optional<std::uint64_t> retained;
    if (!r.isNull(0, 1)) retained = std::stoull(std::string(r.value(0, 1)));
    watchRetained(retained);
    return std::make_pair(Lsn::parse(r.value(0, 0)), retained);
  };
  auto stopNow = [&] {
    if (applier.inSourceTransaction()) {
      // Half a source transaction cannot commit; the slot will send it again.
      applier.abort();
    } else {
      applier.commitIfPossible();
    }
    // The slot sends a half-received transaction again: it never stays in the journal.
    if (journal) journal->abandon();
    reportFlushed();
    finish(FollowEnd::Stopped);
  };

  // A catch-up (--until-lsn) whose point the walsender has not sent past yet: more is coming.
  auto catchingUp = [&] {
    return options.untilLsn && stream.serverWalEnd() < *options.untilLsn &&
           !applier.inSourceTransaction() && !pause.wantsHold() && !fence();
  };
  // What a drained catch-up handed over is committed within apply.batch_ms even if the stream
  // stays quiet (a slow walsender): the checkpoint, the slot and progress do not wait for the
  // next message.
  bool drainArmed = false;
  auto armDrain = [&] {
    if (drainArmed) return;
    drainArmed = true;
    drainTimer.expires_after(std::chrono::milliseconds(config_.apply.batchMillis));
    drainTimer.async_wait([&](boost::system::error_code ec) {
      drainArmed = false;
      if (ec || finished) return;
      if (applier.inSourceTransaction()) return;
      if (applier.commitIfPossible()) reportFlushed();
      if (reached()) finish(FollowEnd::ReachedTarget);
    });
  };
  std::function<void()> drain;
  // A catch-up collects what arrives while the target runs the batch before, and hands it over
  // when the target answers (its session's socket turns readable: the results come at the
  // pipeline's end), or when the batch fills. Handing over at every drained moment instead made
  // the batches as small as what the walsender decodes while pgmorph transforms (about 600
  // changes in the apply benchmark), and each waited for the one before: pgmorph blocked on
  // the target while the walsender stalled on a full socket, and every small batch paid a
  // commit and a round of statements. The wait is re-armed for each batch sent (a readiness
  // libpq consumed while finishing a batch never fires), and a stale one is ignored.
  std::optional<asio::posix::stream_descriptor> targetAnswer;
  std::uint64_t answerFor = 0;  // stats_.writes (every batch sent adds to it) when armed
  bool answerArmed = false;
  auto awaitTargetAnswer = [&](int fd) {
    if (answerArmed && answerFor == stats_.writes) return;
    answerArmed = true;
    answerFor = stats_.writes;
    targetAnswer.emplace(io, ::dup(fd));
    targetAnswer->async_wait(asio::posix::stream_descriptor::wait_read,
                             [&, armedFor = answerFor](boost::system::error_code ec) {
                               if (ec || finished || armedFor != answerFor) return;
                               answerArmed = false;
                               drain();
                             });
  };
  bool readArmed = false;
  std::function<void()> waitReadable = [&] {
    if (readArmed) return;
    readArmed = true;
    socket.async_wait(asio::posix::stream_descriptor::wait_read, [&](boost::system::error_code ec) {
      readArmed = false;
      if (!ec && !finished) drain();
    });
  };
  drain = [&] {
    auto deadline = std::chrono::steady_clock::now() + 50ms;
    for (;;) {
      if (stop_.requested()) return stopNow();
      // Held for verify: nothing is consumed until onPause resumes the drain.
      if (pause.holding()) return;
      if (pause.wantsHold() && !applier.inSourceTransaction()) return holdNow();
      auto msg = stream.poll();
      if (!msg) {
        if (options.untilLsn && !applier.inSourceTransaction() && !pause.wantsHold() && !fence()) {
          // A catch-up, drained for now. While the target is still on the batch before, what
          // arrives keeps joining the next one (awaitTargetAnswer above).
          if (int fd = applier.inFlightSocket(); fd >= 0 && !applier.inFlightAnswered()) {
            awaitTargetAnswer(fd);
            armDrain();
            return waitReadable();
          }
          // The target is done or about to be: what whole transactions we hold goes to it
          // without waiting (it works while the next messages come), committed when the next
          // batch is handed over, when it answers, or at the latest after apply.batch_ms
          // (drainTimer). With nothing new to send, what is in flight is finished now.
          bool committed =
              applier.hasUnsentCommits() ? applier.commitOverlapped() : applier.commitIfPossible();
          if (committed) reportFlushed();
          if (reached()) return finish(FollowEnd::ReachedTarget);
          if (int fd = applier.inFlightSocket(); fd >= 0) {
            awaitTargetAnswer(fd);
            armDrain();
            return waitReadable();
          }
          // The walsender is still decoding what this catch-up is to apply: more is coming.
          if (catchingUp()) {
            armDrain();
            return waitReadable();
          }
        }
        // Drained for now: commit what whole transactions we hold, then wait for more.
        if (applier.commitIfPossible()) reportFlushed();
        // Waiting for a point that the server says it has sent past (the keepalive that answers
        // the status sent at start, or the one the walsender sends once it has decoded all its
        // WAL): the point is reached now, not at the next status tick. Without heartbeats
        // (slot.heartbeat_interval_ms: 0, or a role that may not emit them) this is the only
        // thing that ends a catch-up on an idle source before apply.status_interval_ms.
        if (options.untilLsn && stream.serverWalEnd() >= *options.untilLsn) advanceToServer();
        // At a fence with nothing in flight (the keepalive asked for when the fence was set says
        // the server has sent past it): verify's own apply ends, a running follower holds.
        if (idleAtFence()) {
          if (options.fenceLsn) {
            fenceReached = true;
          } else {
            pause.reachedFence(applier.checkpoint());
            return;
          }
        }
        if (reached()) return finish(FollowEnd::ReachedTarget);
        return waitReadable();
      }
      decoder.decode(msg->payload, msg->dataStart, change);
      // Into the journal before the applier sees it, so nothing confirmed from the journal
      // (confirm: journal) can be missing from it.
      if (journal) journal->onMessage(change, msg->dataStart, msg->payload);
      if (change.kind == ChangeKind::Begin) {
        if (auto f = fence(); f && change.lsn >= *f) {
          // The first transaction committing at or after the fence is not applied now: verify's
          // own apply ends here (the slot sends it again to the next session: it is past the
          // checkpoint we confirm); a running follower keeps it until verify releases it.
          if (applier.commitIfPossible()) reportFlushed();
          if (options.fenceLsn) {
            fenceReached = true;
            return finish(FollowEnd::ReachedTarget);
          }
          stashed = true;
          pause.reachedFence(applier.checkpoint());
          return;
        }
      }
      applier.onChange(change);
      if (change.kind == ChangeKind::Message)
        if (auto beat =
                heartbeat.onMessage(change, msg->dataStart, std::chrono::steady_clock::now()))
          onHeartbeat(*beat);
      if (!applier.inSourceTransaction() && applier.batchFull()) {
        // Overlapped: the target runs this batch while the next one is decoded (the applier
        // commits it before anything else reaches the target; reached() sees it then).
        applier.commitOverlapped();
        reportFlushed();
        if (reached()) return finish(FollowEnd::ReachedTarget);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        // Let the timers and signals run between slices of a long backlog.
        asio::post(io, [&] {
          if (!finished) drain();
        });
        return;
      }
    }
  };

  std::function<void()> armStatus = [&] {
    statusTimer.expires_after(std::chrono::milliseconds(config_.apply.statusIntervalMillis));
    statusTimer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      if (applier.commitIfPossible()) reportFlushed();
      // Idle source: confirm the server's sent position (keeps WAL from piling up).
      advanceToServer();
      if (idleAtFence()) {
        if (options.fenceLsn)
          fenceReached = true;
        else
          pause.reachedFence(applier.checkpoint());
      }
      if (reached()) return finish(FollowEnd::ReachedTarget);
      // When waiting for a point, ask the server for a keepalive so an idle source still
      // tells us how far it has sent.
      stream.sendStatus(options.untilLsn.has_value() || fence().has_value());
      armStatus();
    });
  };
  std::function<void()> armProgress = [&] {
    progressTimer.expires_after(options.progressInterval);
    progressTimer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      if (progress.due()) progress.log(readSource().first);
      armProgress();
    });
  };
  // With metrics served (or a sampler): lag and the slot's retained WAL every second (one
  // source query).
  std::function<void()> armMetrics = [&] {
    metricsTimer.expires_after(1s);
    metricsTimer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      auto [current, retained] = readSource();
      if (options.metrics) options.metrics->onProgress(stats_, current, retained);
      if (options.onSample) options.onSample(stats_, current);
      armMetrics();
    });
  };
  // A run that waits for a point (--until-caught-up, verify's fence) sends its first heartbeat at
  // once: on an idle source the walsender may have nothing else to send past that point, and
  // the heartbeat coming back is what moves the checkpoint there (rather than a full interval
  // later).
  bool firstHeartbeat = options.untilLsn.has_value() || options.fenceLsn.has_value();
  std::function<void()> armHeartbeat = [&] {
    heartbeatTimer.expires_after(firstHeartbeat ? std::chrono::milliseconds(0)
                                                : heartbeat.interval());
    firstHeartbeat = false;
    heartbeatTimer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      auto now = std::chrono::steady_clock::now();
      heartbeat.emit(sourceSql, now);
      const std::string& stall = heartbeat.checkStall(now, stream.received());
      if (options.metrics) options.metrics->onHeartbeatStall(stall);
      if (heartbeat.enabled()) armHeartbeat();
    });
  };
  // With a journal: fsync at least every apply.batch_ms (confirmable() syncs), the pipeline's
  // applied position as the journal's consumer, retention (FollowJournal::tick).
  std::function<void()> armJournal = [&] {
    journalTimer.expires_after(std::chrono::milliseconds(config_.apply.batchMillis));
    journalTimer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      reportFlushed();
      auto forced = journal->tick(applier.checkpoint());
      stats_.journalForcedPast += forced.size();
      if (!forced.empty() && options.metrics) options.metrics->onJournalForcedRetention(forced);
      armJournal();
    });
  };
  std::function<void()> armStop = [&] {
    stopTimer.expires_after(100ms);
    stopTimer.async_wait([&](boost::system::error_code ec) {
      if (ec || finished) return;
      if (stop_.requested()) return stopNow();
      armStop();
    });
  };

  onPause = [&] {
    if (pause.wantsHold()) {
      // Mid-transaction the drain holds at the boundary; idle, hold now.
      if (!applier.inSourceTransaction()) holdNow();
      return;
    }
    if (pause.holding()) return;
    // Advancing to verify's fence: ask the server where it is now, so that an idle source
    // reaches the fence with the reply rather than at the next status update.
    if (pause.fence()) stream.sendStatus(true);
    if (stashed) {
      // The transaction held back at the last fence may be past this one too.
      if (auto f = fence(); f && change.lsn >= *f) {
        pause.reachedFence(applier.checkpoint());
        return;
      }
      stashed = false;
      applier.onChange(change);
    }
    drain();
  };
  // Catching up to the insert position at start: make the source flush its WAL up to here, so
  // that the walsender can send it now (Heartbeat::emitFlushing), heartbeats on or not.
  if (options.untilLsn) heartbeat.emitFlushing(sourceSql);
  // Waiting for a point: the server's position at once (a keepalive reply), not in a second.
  if (options.untilLsn || options.fenceLsn) stream.sendStatus(true);
  asio::post(io, [&] { drain(); });
  armStatus();
  armProgress();
  armStop();
  if (options.metrics || options.onSample) armMetrics();
  if (heartbeat.enabled()) armHeartbeat();
  if (journal) armJournal();
  // Runs the handlers still queued (cancelled waits, a posted drain) while everything they
  // refer to is alive; with `finished` set they return at once.
  auto quiesce = [&] {
    finished = true;
    boost::system::error_code ignored;
    statusTimer.cancel();
    drainTimer.cancel();
    progressTimer.cancel();
    stopTimer.cancel();
    metricsTimer.cancel();
    heartbeatTimer.cancel();
    journalTimer.cancel();
    pause.stop();
    socket.cancel(ignored);
    io.restart();
    io.poll();
    socket.release();
    // A transaction the session did not receive whole is not kept (the slot sends it again).
    if (journal) journal->abandon();
  };
  try {
    io.run();
  } catch (...) {
    quiesce();
    applier.abort();
    throw;
  }
  quiesce();
  stream.sendStatus(false);
  stream.stop();
  Lsn current = Lsn::parse(sourceSql.exec("SELECT pg_current_wal_lsn()::text").value(0, 0));
  progress.log(current);
  return end;
}

}  // namespace pgmorph
