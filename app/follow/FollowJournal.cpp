#include "app/follow/FollowJournal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgmorph {

using namespace std::chrono_literals;

namespace {

JournalOptions optionsOf(const JournalConfig& c) {
  JournalOptions o;
  o.dir = c.dir;
  o.segmentBytes = c.segmentBytes;
  o.retainBytes = c.retainBytes;
  o.retainAge = std::chrono::seconds(c.retainAgeSeconds);
  o.compress = c.compress;
  return o;
}

}  // namespace

FollowJournal::FollowJournal(const PipelineConfig& config)
    : config_(config),
      dir_(config.journal.dir),
      writer_(optionsOf(config.journal)),
      tee_(writer_),
      consumers_(config.journal.dir) {}

JournalRange JournalRange::read(const std::filesystem::path& dir) {
  JournalRange r;
  r.dir = dir;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return r;
  JournalReader reader(dir);
  r.start = reader.start();
  r.end = reader.end();
  r.empty = r.start == Lsn() && r.end == Lsn();
  return r;
}

std::string JournalRange::describe() const {
  if (empty) return fmt::format("the journal in {} is empty", dir.string());
  return fmt::format("the journal in {} holds the transactions committing after {} up to {}",
                     dir.string(), start.str(), end.str());
}

void FollowJournal::advance(Lsn position) {
  // Inside a transaction being journaled the position is not "nothing commits up to here": the
  // transaction's commit is still to come.
  if (tee_.inTransaction() || position <= writer_.end()) return;
  writer_.advance(position);
}

void FollowJournal::syncIfNeeded() {
  // Only complete transactions (and positions) count as durable; what is appended of an open
  // transaction needs no fsync before its commit is confirmable.
  if (writer_.durableEnd() != writer_.end()) writer_.sync();
}

Lsn FollowJournal::confirmable(Lsn targetCheckpoint) {
  syncIfNeeded();
  Lsn durable = writer_.durableEnd();
  if (config_.journal.confirm == JournalConfig::Confirm::Journal) {
    // Invariant 2 with a journal: what is confirmed is durable in the journal (fdatasync'ed
    // above), so the source may recycle that WAL; the target's checkpoint may be behind it, and
    // a restart applies the difference from the journal (follow's gap fill). The slot then
    // never holds more WAL than the journal's fsync batch, whatever the target does.
    return durable;
  }
  // confirm: target. The target's checkpoint, but never past the journal's durable end: after a
  // machine crash the journal restarts from what it had synced, and the slot resends from what
  // was confirmed. Confirming a target commit that the journal lost (written, not yet synced)
  // would leave a hole in the journal that no one can fill again.
  return std::min(targetCheckpoint, durable);
}

std::vector<std::string> FollowJournal::tick(Lsn targetCheckpoint) {
  auto now = std::chrono::steady_clock::now();
  if (now - lastRecord_ >= 1s && recorded_ != targetCheckpoint) {
    // The target's committed checkpoint: retention keeps what this pipeline has not applied.
    consumers_.record(config_.pipeline, targetCheckpoint);
    recorded_ = targetCheckpoint;
    lastRecord_ = now;
  }
  if (now - lastRetention_ < 10s) return {};
  lastRetention_ = now;
  JournalWriter::Retention r = writer_.applyRetention();
  if (r.removedSegments > 0)
    spdlog::info("journal retention removed {} segment(s), {} bytes; {}", r.removedSegments,
                 r.removedBytes, describeRange());
  if (!r.forcedPast.empty()) {
    std::string names;
    for (const auto& n : r.forcedPast) names += (names.empty() ? "" : ", ") + n;
    std::string positions;
    for (const auto& c : consumers_.list())
      if (std::find(r.forcedPast.begin(), r.forcedPast.end(), c.name) != r.forcedPast.end())
        positions +=
            fmt::format("{}{} at {}", positions.empty() ? "" : ", ", c.name, c.applied.str());
    spdlog::error(
        "journal retention (retain_bytes {}) deleted transactions that consumer(s) {} have not "
        "applied: the changes committing after their positions ({}) up to {} are no longer in "
        "{}; those targets cannot catch up from this journal. Raise journal.retain_bytes, or give "
        "them a new snapshot.",
        config_.journal.retainBytes, names, positions, writer_.start().str(), dir_.string());
  }
  return r.forcedPast;
}

}  // namespace pgmorph
