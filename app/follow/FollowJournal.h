// FollowJournal: the journal side of one follow session (journal: in the pipeline file). Owns
// the JournalWriter (and with it the journal's writer.lock) and the JournalTee that appends what
// the slot sends, message by message, before the applier sees it. It decides what the follower
// may confirm to the source (confirm: journal | target), batches fsync, records the pipeline's
// applied position as the journal's consumer and runs retention.
//
// Contract with the follower: feed every stream message (onMessage) before applying it; call
// confirmable() for the flush position each time it would report one (it syncs first); abandon()
// when the session ends, so a half-received transaction never stays in the journal; advance()
// only where nothing is in flight (a heartbeat came back, the idle status timer).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/journal/JournalTee.h"
#include "cdc/model/Change.h"
#include "state/journal/Journal.h"
#include "transform/Config.h"

namespace pgmorph {

// What a journal directory holds, read without the writer's lock (a previous pgmorph may still
// hold it while it goes away): decides whether a session may start before it opens the writer.
struct JournalRange {
  std::filesystem::path dir;
  bool empty = true;
  Lsn start, end;
  static JournalRange read(const std::filesystem::path& dir);
  // "the journal in DIR holds the transactions committing after S up to E" (or "is empty").
  std::string describe() const;
};

class FollowJournal {
 public:
  // Opens (and recovers) the journal of config.journal; refuses a second writer.
  explicit FollowJournal(const PipelineConfig& config);

  const std::filesystem::path& dir() const { return dir_; }
  bool empty() const { return writer_.empty(); }
  Lsn start() const { return writer_.start(); }
  Lsn end() const { return writer_.end(); }
  std::string describeRange() const {
    return JournalRange{dir_, writer_.empty(), writer_.start(), writer_.end()}.describe();
  }

  // An empty journal starts where streaming starts (everything committing after it will come).
  void startAt(Lsn start) { writer_.startAt(start); }

  void onMessage(const Change& change, Lsn dataStart, std::string_view payload) {
    tee_.onMessage(change, dataStart, payload);
  }
  void abandon() { tee_.abandon(); }
  // Nothing commits up to `position` (idle source); only outside a journaled transaction.
  void advance(Lsn position);

  // Syncs what was written since the last sync, then says what may be confirmed to the source
  // given the target's committed checkpoint (see the .cpp for why each mode confirms what it
  // does).
  Lsn confirmable(Lsn targetCheckpoint);

  // About once a second: the pipeline's applied position as the journal's consumer; about every
  // ten seconds: retention (an error-level line when it had to delete what a consumer has not
  // applied). Returns the consumers forced past in this call (for the log, the count and /metrics).
  std::vector<std::string> tick(Lsn targetCheckpoint);

 private:
  void syncIfNeeded();

  const PipelineConfig& config_;
  std::filesystem::path dir_;
  JournalWriter writer_;
  JournalTee tee_;
  JournalConsumers consumers_;
  std::chrono::steady_clock::time_point lastRecord_{}, lastRetention_{};
  std::optional<Lsn> recorded_;
};

}  // namespace pgmorph
