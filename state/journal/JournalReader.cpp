// JournalReader: follows the segments in order, yielding a transaction only once its Commit
// frame is on file (a first pass from its Begin checks that, a second yields its records).
// A frame that does not decode at the tail of the last segment is "not yet"; in a closed
// segment, or followed by more bytes, it is corruption, named by file and offset.
#include <fcntl.h>

#include "cdc/model/Errors.h"
#include "state/journal/Journal.h"
#include "state/journal/SegmentScan.h"

namespace pgmorph {

namespace fs = std::filesystem;
using namespace journal;

namespace {

[[noreturn]] void throwCorrupt(const fs::path& file, std::uint64_t offset, const char* what) {
  throw PgmorphError(ErrorClass::Operator,
                     "journal segment " + file.string() + " is corrupt at offset " +
                         std::to_string(offset) + " (" + what +
                         "); the transactions from there on cannot be read: replay from the "
                         "slot or from a target restored past this point");
}

std::string rangeText(const fs::path& dir, Lsn start, Lsn end) {
  return "journal " + dir.string() + " holds the transactions committing after " + start.str() +
         " up to " + end.str();
}

}  // namespace

struct JournalReader::Impl {
  fs::path dir;
  bool positioned = false;
  Lsn segStart;
  Fd fd;
  std::unique_ptr<FrameScanner> scanner;
  std::uint64_t offset = 0;  // the next frame to read
  Lsn position;              // everything committing at or before it was yielded or skipped
  bool yielding = false;     // inside a transaction known to be complete
  // The first pass over a transaction still being written: where it got to, so a poll
  // continues instead of rescanning a large transaction from its Begin each time.
  std::uint64_t checkingBegin = UINT64_MAX, checkedTo = 0;
  Lsn checkingLsn;

  bool openSegment(Lsn start) {
    Fd opened = openFile(segmentPath(dir, start), O_RDONLY);
    if (!opened) return false;  // retention removed it since the listing
    fd = std::move(opened);
    segStart = start;
    scanner = std::make_unique<FrameScanner>(fd.get(), segmentPath(dir, start));
    offset = 0;
    yielding = false;
    checkingBegin = UINT64_MAX;
    return true;
  }

  // Where to start reading in the segment for `after`: the index's last verified entry at or
  // before it (so the reader skips at most one transaction), or the segment's start.
  std::uint64_t indexedOffset(Lsn after) {
    const auto entries = readIndex(indexPath(dir, segStart), fileSize(fd.get(), scanner->path()));
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->lsn > after) continue;
      DecodedFrame frame;
      if (scanner->frameAt(it->offset, frame) == DecodeStatus::Ok && frame.lsn == it->lsn &&
          (frame.kind == FrameKind::Begin || frame.kind == FrameKind::Position))
        return it->offset;
      break;  // an index that does not match its segment: read from the start instead
    }
    return 0;
  }

  // Does the transaction whose Begin is at `begin` have its Commit on file? Returns the
  // offset past the Commit, or nullopt when not yet. Throws on corruption before the tail.
  std::optional<std::uint64_t> committedEnd(std::uint64_t begin, Lsn lsn) {
    if (checkingBegin != begin || checkingLsn != lsn) {
      checkingBegin = begin;
      checkingLsn = lsn;
      checkedTo = begin;
    }
    for (;;) {
      DecodedFrame frame;
      const DecodeStatus status = scanner->frameAt(checkedTo, frame);
      if (status != DecodeStatus::Ok) {
        tail(checkedTo, status);
        return std::nullopt;
      }
      const bool first = checkedTo == begin;
      if ((first && frame.kind != FrameKind::Begin) ||
          (!first && (frame.kind == FrameKind::Begin || frame.kind == FrameKind::Position)) ||
          (frame.kind == FrameKind::Commit && frame.lsn != lsn)) {
        // Bytes of another transaction: the writer cut this one (abort or recovery) and wrote
        // another in its place while we read. Read again from the file.
        scanner->invalidate();
        checkingBegin = UINT64_MAX;
        return std::nullopt;
      }
      checkedTo += frame.size;
      if (frame.kind == FrameKind::Commit) return checkedTo;
    }
  }

  // A frame at `at` did not decode at the end of what this segment holds so far. A short
  // frame is the writer not done yet (or a torn write its restart will cut). A frame whose CRC
  // does not check with more bytes after it is corruption; at the very tail, a torn write.
  void tail(std::uint64_t at, DecodeStatus status) {
    scanner->invalidate();
    if (status != DecodeStatus::Corrupt) return;
    // Read it again from the file: the writer may have cut a tail and rewritten it meanwhile.
    DecodedFrame frame;
    if (scanner->frameAt(at, frame) != DecodeStatus::Corrupt) return;
    const std::size_t announced = scanner->lastAnnouncedSize();
    if (announced > 0 && at + announced < fileSize(fd.get(), scanner->path()))
      throwCorrupt(scanner->path(), at, "a frame whose CRC does not check, with frames after it");
    scanner->invalidate();
  }

  std::optional<Lsn> nextSegment() const {
    for (Lsn s : listSegments(dir))
      if (s > segStart) return s;
    return std::nullopt;
  }
};

JournalReader::JournalReader(fs::path dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
}

JournalReader::~JournalReader() = default;

void JournalReader::seek(Lsn after) {
  auto& d = *impl_;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto starts = listSegments(d.dir);
    if (starts.empty())
      throw JournalGap("journal " + d.dir.string() + " holds nothing yet (no writer started it)",
                       Lsn(), Lsn());
    if (after < starts.front())
      throw JournalGap(rangeText(d.dir, starts.front(), end()) + "; " + after.str() +
                           " is before its start (retention removed older segments, or "
                           "journaling began later)",
                       starts.front(), end());
    Lsn chosen = starts.front();
    for (Lsn s : starts)
      if (s <= after) chosen = s;
    if (!d.openSegment(chosen)) continue;  // removed meanwhile: list again
    d.offset = d.indexedOffset(after);
    d.position = after;
    d.positioned = true;
    return;
  }
  throw JournalGap(rangeText(d.dir, start(), end()) +
                       "; retention keeps removing the segment "
                       "holding " +
                       after.str(),
                   start(), end());
}

std::optional<JournalReader::Record> JournalReader::next() {
  auto& d = *impl_;
  if (!d.positioned) seek(start());
  for (;;) {
    DecodedFrame frame;
    if (d.yielding) {
      // Checked complete by the first pass; a failure now is the file changing under us.
      if (d.scanner->frameAt(d.offset, frame) != DecodeStatus::Ok)
        throwCorrupt(d.scanner->path(), d.offset, "a frame of a committed transaction changed");
      d.offset += frame.size;
      if (frame.kind == FrameKind::Commit) {
        d.yielding = false;
        d.position = frame.lsn;
        return Record{Record::Kind::Commit, frame.lsn, {}};
      }
      return Record{Record::Kind::Message, frame.lsn, frame.payload};
    }
    const DecodeStatus status = d.scanner->frameAt(d.offset, frame);
    if (status == DecodeStatus::Ok && frame.kind == FrameKind::Position) {
      d.offset += frame.size;
      if (frame.lsn <= d.position) continue;
      d.position = frame.lsn;
      return Record{Record::Kind::Position, frame.lsn, {}};
    }
    if (status == DecodeStatus::Ok && frame.kind == FrameKind::Begin) {
      const Lsn lsn = frame.lsn;
      const auto commitEnd = d.committedEnd(d.offset, lsn);
      if (!commitEnd) {
        // Not complete yet. If the segment is closed, it never will be: corruption.
        if (d.nextSegment()) {
          d.scanner->invalidate();
          if (!d.committedEnd(d.offset, lsn))
            throwCorrupt(d.scanner->path(), d.offset,
                         "a transaction without its Commit frame "
                         "in a closed segment");
          continue;
        }
        return std::nullopt;
      }
      if (lsn <= d.position) {  // before the seek position (the index lands at or before it)
        d.offset = *commitEnd;
        continue;
      }
      d.scanner->frameAt(d.offset, frame);  // the first pass moved the buffer
      d.offset += frame.size;
      d.yielding = true;
      return Record{Record::Kind::Begin, lsn, {}};
    }
    if (status == DecodeStatus::Ok)
      throwCorrupt(d.scanner->path(), d.offset, "a Message or Commit frame outside a transaction");
    // Nothing complete at `offset`: the end of this segment so far.
    const auto next = d.nextSegment();
    if (!next) {
      d.tail(d.offset, status);
      return std::nullopt;
    }
    // A next segment exists, so this one was closed: but the writer may have appended its
    // last transactions after our read and before creating the next one. Read again.
    d.scanner->invalidate();
    if (d.scanner->frameAt(d.offset, frame) == DecodeStatus::Ok) continue;
    if (d.offset != fileSize(d.fd.get(), d.scanner->path()))
      throwCorrupt(d.scanner->path(), d.offset, "a frame whose length or CRC does not check");
    if (*next > d.position)
      throw JournalGap(rangeText(d.dir, start(), end()) + "; the reader was at " +
                           d.position.str() + " and retention removed the segments up to " +
                           next->str() + " before it read them",
                       start(), end());
    if (!d.openSegment(*next))
      throw JournalGap(rangeText(d.dir, start(), end()) + "; retention removed the segment " +
                           next->str() + " before the reader (at " + d.position.str() + ") read it",
                       start(), end());
  }
}

Lsn JournalReader::start() const {
  const auto starts = listSegments(impl_->dir);
  return starts.empty() ? Lsn() : starts.front();
}

Lsn JournalReader::end() const {
  const auto starts = listSegments(impl_->dir);
  if (starts.empty()) return Lsn();
  const Lsn last = starts.back();
  Fd fd = openFile(segmentPath(impl_->dir, last), O_RDONLY);
  if (!fd) return last;
  FrameScanner scanner(fd.get(), segmentPath(impl_->dir, last));
  const auto entries = readIndex(indexPath(impl_->dir, last), fileSize(fd.get(), scanner.path()));
  // From the index's last entry (verified by the scan's grammar: it must decode as a Begin or
  // Position there), else from the segment's start.
  std::uint64_t from = 0;
  Lsn fromLsn = last;
  if (!entries.empty()) {
    DecodedFrame frame;
    if (scanner.frameAt(entries.back().offset, frame) == DecodeStatus::Ok &&
        frame.lsn == entries.back().lsn) {
      from = entries.back().offset;
      fromLsn = entries.size() > 1 ? entries[entries.size() - 2].lsn : last;
    }
  }
  return scanSegment(scanner, from, fromLsn).lastLsn;
}

JournalInfo JournalReader::info() const {
  JournalInfo info;
  const auto starts = listSegments(impl_->dir);
  info.segments = starts.size();
  for (Lsn s : starts) {
    std::error_code ec;
    const auto size = fs::file_size(segmentPath(impl_->dir, s), ec);
    if (!ec) info.bytes += size;
  }
  info.start = start();
  info.end = end();
  info.consumers = JournalConsumers(impl_->dir).list();
  return info;
}

}  // namespace pgmorph
