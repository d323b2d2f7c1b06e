// The durable change journal: what the source sent (raw wal2json messages with their LSNs),
// whole transactions at a time, in segment files in one directory on local disk. It lets a
// target be brought forward from a stored LSN after the slot has moved on (a slot cannot be
// rewound), lets one slot feed several targets, and lets the slot be confirmed once a
// transaction is durable here (the source keeps little WAL while a target is down).
//
// Layout of DIR:
//   <16 hex digits>.seg   a segment, named by its start position S: it holds every journaled
//                         transaction whose commit end is > S and <= the next segment's start.
//                         Frames: [u32 body length][u32 crc32c of body][body], body =
//                         [u8 kind][u64 lsn][payload]. Kinds: Begin (lsn = the transaction's
//                         commit end), Message (lsn = the XLogData start; payload = one wal2json
//                         message), Commit (lsn = commit end), Position (lsn: nothing commits
//                         between the previous end and lsn; an idle source's heartbeat).
//   <16 hex>.idx          per segment: (commit end, offset of its Begin frame), rebuilt from the
//                         segment when missing or short (never trusted past the segment's size).
//   writer.lock           flock()ed by the one writer.
//   consumers/<name>.pos  each consumer's applied position (its target's checkpoint).
//
// A segment is only ever closed at a transaction boundary. A transaction is visible to readers
// once its Commit frame is written, and durable once sync() has returned after it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Lsn.h"

namespace pgmorph {

struct JournalOptions {
  std::filesystem::path dir;
  std::uint64_t segmentBytes = 64ull << 20;  // a segment is closed past this size
  std::uint64_t retainBytes = 0;             // 0 = no limit
  std::chrono::seconds retainAge{0};         // 0 = no limit
  bool compress = false;                     // zstd, if it measured worth it (see README)
};

// What `status` and /metrics show.
struct JournalInfo {
  Lsn start;  // every transaction committing after this position is in the journal
  Lsn end;    // commit end (or Position) of the last complete transaction
  std::uint64_t bytes = 0;
  std::size_t segments = 0;
  struct Consumer {
    std::string name;
    Lsn applied;
    std::chrono::system_clock::time_point updated;
  };
  std::vector<Consumer> consumers;
};

// The one process appending to a journal directory (it holds writer.lock; a second writer is
// refused with a message naming the holder's PID). Opening recovers: a frame whose length or
// CRC does not check at the tail is cut (a torn write), and so is a transaction without its
// Commit frame (the slot sends it again: it was never confirmed from here).
// Not thread-safe.
class JournalWriter {
 public:
  explicit JournalWriter(JournalOptions options);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // An empty journal starts at `start` (the slot's position when journaling begins): it
  // records that it holds everything committing after it. No effect on a non-empty journal.
  void startAt(Lsn start);
  bool empty() const;

  // Starts a transaction whose commit end (wal2json's "nextlsn") is `commitEnd`. Returns false
  // when the journal already holds it (commitEnd <= end()): the caller skips its messages up to
  // its commit (a slot resending what was journaled but not yet confirmed).
  bool begin(Lsn commitEnd);
  void append(Lsn dataStart, std::string_view payload);  // inside begin() .. commit()
  void commit();                                         // writes the Commit frame
  // Drops what was appended since begin() (the stream broke mid-transaction).
  void abort();
  bool inTransaction() const;

  // Records that nothing commits between end() and `position` (idle source). Outside a
  // transaction; ignored when position <= end().
  void advance(Lsn position);

  // fdatasync()s what has been written (and fsyncs the directory when a segment was created
  // since the last sync). Afterwards durableEnd() == end(). Batched by the caller.
  void sync();

  Lsn start() const;
  Lsn end() const;         // the last complete transaction's commit end (or Position)
  Lsn durableEnd() const;  // end() as of the last sync()

  // Deletes closed segments by options' retain_bytes / retain_age: a segment is removed when it
  // is older than retain_age or the journal is larger than retain_bytes; one that a consumer
  // has not applied (its position < the segment's last commit) is kept unless retain_bytes
  // forces it out — then `forcedPast` names those consumers. Never the open segment.
  struct Retention {
    std::size_t removedSegments = 0;
    std::uint64_t removedBytes = 0;
    std::vector<std::string> forcedPast;  // consumers whose unapplied changes were deleted
  };
  Retention applyRetention();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Thrown when a reader asks for a position the journal no longer (or never) holds.
struct JournalGap : std::runtime_error {
  JournalGap(std::string message, Lsn start, Lsn end)
      : std::runtime_error(std::move(message)), start(start), end(end) {}
  Lsn start, end;  // the range the journal covers now
};

// Reads a journal directory, also while its writer appends and removes segments (separate
// processes; files only). Yields only complete transactions (Begin .. Commit all written).
// Not thread-safe.
class JournalReader {
 public:
  explicit JournalReader(std::filesystem::path dir);
  ~JournalReader();

  // Positions before the first transaction committing after `after`. Throws JournalGap when
  // the journal does not hold every transaction committing after `after` (start() > after),
  // with a message saying which range it covers.
  void seek(Lsn after);

  struct Record {
    enum class Kind { Begin, Message, Commit, Position } kind;
    Lsn lsn;                   // as in the frame (see the layout above)
    std::string_view payload;  // Message only; valid until the next next()
  };
  // The next record, or nullopt when no further complete transaction (or Position) is written
  // yet — call again later to see what the writer has appended since. Throws JournalGap when
  // retention removed the segment the reader was about to read.
  std::optional<Record> next();

  JournalInfo info() const;  // re-reads the directory
  Lsn start() const;
  Lsn end() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A consumer's applied position, read by the writer's retention and by `status`. Written
// atomically (temporary file, fsync, rename); a consumer calls record() after its target
// commits, at most about once a second.
class JournalConsumers {
 public:
  explicit JournalConsumers(std::filesystem::path dir);
  void record(const std::string& name, Lsn applied);
  std::vector<JournalInfo::Consumer> list() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace pgmorph
