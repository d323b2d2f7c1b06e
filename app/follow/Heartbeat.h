// Heartbeat: follow's liveness probe of the source's walsender. Every `interval` it writes a
// non-transactional logical message (pg_logical_emit_message(false, prefix, <source clock>))
// over the ordinary source connection; the slot delivers it on follow's own stream. When one
// comes back, the walsender has decoded and sent everything before it: Follower may confirm up
// to its LSN when nothing received is unapplied (the rule of TransactionApplier::advanceIdle),
// and the message carries the source time at which that position was current (the checkpoint's
// source time: what `status` measures its lag in seconds from). A heartbeat that has not come
// back after 3 intervals is a stalled (or hopelessly behind) walsender: logged once, reported
// by stallReason() until one comes back.
//
// Owns: the heartbeats written and not yet received (at most kMaxPending; the oldest is what
// the stall is measured on). Not thread-safe: the follow thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "cdc/model/Change.h"
#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;

  Heartbeat(const std::string& pipeline, std::string slot, std::chrono::milliseconds interval);

  // "pgmorph_heartbeat:<pipeline>": each pipeline on one source sees only its own heartbeats.
  static std::string prefixFor(const std::string& pipeline);
  const std::string& prefix() const { return prefix_; }
  bool enabled() const { return interval_.count() > 0 && !disabled_; }
  std::chrono::milliseconds interval() const { return interval_; }

  // Writes one heartbeat on `source`. A role without the right to call
  // pg_logical_emit_message turns heartbeats off with one warning (following goes on without
  // them); any other error is thrown (the session fails and is retried).
  void emit(PgConnection& source, Clock::time_point now);

  // Makes the source flush its WAL up to now, for a run that waits for a point (the insert
  // position at start): the walsender sends only flushed WAL, and WAL that no commit of an xid
  // covers (heap pruning by readers, running_xacts, the heartbeat itself) can sit in the WAL
  // buffers until the WAL writer or another commit flushes it — measured on an idle source: 9
  // s, against 0.1 s with this. A transactional message under this prefix in its own
  // transaction, committed with synchronous_commit on: that commit is flushed, and with it every
  // record before it. The slot delivers it as a transaction of its own (nothing to apply; it
  // moves the checkpoint to its commit). Written whether heartbeats are on or not (it is one
  // message per catch-up); a role that may not emit it turns heartbeats off as emit() does.
  void emitFlushing(PgConnection& source);

  struct Received {
    // Where the checkpoint may move: the end of the message's WAL record when this run wrote
    // it (pg_logical_emit_message returned it), else its start (the stream's LSN).
    Lsn lsn;
    std::int64_t sourceMicros = 0;  // source clock when it was written (Unix µs)
    double roundTripSeconds = -1;   // written -> received, when this run wrote it
  };
  // A decoded message: this pipeline's heartbeat (with its LSN: the change's, else the
  // XLogData's start), or nullopt for anything else (other prefixes are not ours).
  std::optional<Received> onMessage(const Change& change, Lsn dataStart, Clock::time_point now);

  // Checks the oldest heartbeat not back yet; logs a warning when it becomes overdue (3
  // intervals) and an info line when heartbeats flow again. Returns the stall's description,
  // "" when none. `received` is the stream's received position (said in the warning).
  const std::string& checkStall(Clock::time_point now, Lsn received);
  const std::string& stallReason() const { return stall_; }
  double lastRoundTripSeconds() const { return lastRoundTrip_; }

 private:
  static constexpr std::size_t kMaxPending = 64;
  struct Pending {
    Lsn end;              // the end of its WAL record
    std::string content;  // the source clock it carries: unique per heartbeat
    Clock::time_point at;
  };
  std::string prefix_, slot_;
  std::chrono::milliseconds interval_;
  bool disabled_ = false;
  // pg_logical_emit_message was refused: heartbeats off, with one warning.
  void disable(const PgError& e);
  std::deque<Pending> pending_;
  std::string stall_;
  double lastRoundTrip_ = -1;
};

}  // namespace pgmorph
