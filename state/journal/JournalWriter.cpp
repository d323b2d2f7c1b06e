// JournalWriter: appends frames to the open segment through a user-space buffer (written out
// at each Commit, each Position, and every kFlushBytes inside a large transaction), an index
// entry per transaction, and rolls to a new segment at a transaction boundary.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <stdexcept>
#include <system_error>

#include "state/journal/Journal.h"
#include "state/journal/JournalRetention.h"
#include "state/journal/SegmentScan.h"
#include "state/journal/WriterLock.h"

namespace pgmorph {

namespace fs = std::filesystem;
using namespace journal;

namespace {
constexpr std::size_t kFlushBytes = 1 << 20;
}

struct JournalWriter::Impl {
  JournalOptions options;
  WriterLock lock;
  bool hasSegment = false;
  Lsn segStart;
  Fd seg;
  Fd idx;
  std::uint64_t written = 0;  // bytes in the segment file (pending not included)
  std::string pending;        // frames not written yet
  Lsn start, end, durableEnd;
  bool inTxn = false;
  Lsn txnLsn;
  std::uint64_t txnOffset = 0;  // where the transaction's Begin frame is (or will be) written
  bool dirDirty = false;        // a segment was created since the last sync()

  explicit Impl(JournalOptions o) : options(std::move(o)), lock(prepareDir(options.dir)) {}

  static const fs::path& prepareDir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir / "consumers", ec);
    if (ec) throw std::system_error(ec, "journal: cannot create the directory " + dir.string());
    return dir;
  }

  fs::path segPath() const { return segmentPath(options.dir, segStart); }

  void openSegment(Lsn startLsn, bool create) {
    segStart = startLsn;
    const int flags = O_WRONLY | (create ? O_CREAT | O_EXCL : 0);
    seg = openFile(segPath(), flags);
    if (!seg) throwErrno("open", segPath());
    idx = openFile(indexPath(options.dir, startLsn), O_WRONLY | O_CREAT | (create ? O_TRUNC : 0));
    if (!idx) throwErrno("create", indexPath(options.dir, startLsn));
    hasSegment = true;
    if (create) dirDirty = true;
  }

  // Opening an existing journal: keep the last segment up to its last complete transaction.
  void recover() {
    const std::vector<Lsn> starts = listSegments(options.dir);
    if (starts.empty()) return;
    start = starts.front();
    openSegment(starts.back(), false);
    {
      Fd readFd = openFile(segPath(), O_RDONLY);
      FrameScanner reading(readFd.get(), segPath());
      const SegmentScan scan = scanSegment(reading, 0, segStart);
      const std::uint64_t size = fileSize(seg.get(), segPath());
      if (scan.boundary < size) {
        // A torn write or a transaction without its Commit: never confirmed from here (the
        // slot is confirmed only up to durableEnd, which is at or before this boundary), so
        // the slot sends it again. Cut it so the next frame follows a complete transaction.
        spdlog::warn(
            "journal: cut {} bytes after the last complete transaction ({}) at the "
            "tail of {} ({})",
            size - scan.boundary, scan.lastLsn.str(), segPath().string(),
            scan.stop == DecodeStatus::Corrupt ? "a frame whose length or CRC did not check"
                                               : "an unfinished frame or transaction");
        if (::ftruncate(seg.get(), static_cast<off_t>(scan.boundary)) != 0)
          throwErrno("truncate", segPath());
      }
      written = scan.boundary;
      end = scan.lastLsn;
      // The index is not synced with the segment: rewrite it from what the scan found.
      std::string bytes;
      for (const auto& e : scan.entries) bytes += encodeIndexEntry(e);
      if (::ftruncate(idx.get(), 0) != 0) throwErrno("truncate", indexPath(options.dir, segStart));
      writeAll(idx.get(), bytes, indexPath(options.dir, segStart));
    }
    if (::lseek(seg.get(), static_cast<off_t>(written), SEEK_SET) < 0)
      throwErrno("seek", segPath());
    if (::lseek(idx.get(), 0, SEEK_END) < 0) throwErrno("seek", indexPath(options.dir, segStart));
    // What is on disk may be only in the page cache (the last writer died before its sync):
    // sync it now so durableEnd is true from the start.
    if (::fsync(seg.get()) != 0) throwErrno("fsync", segPath());
    fsyncDir(options.dir);
    durableEnd = end;
  }

  void flush() {
    if (pending.empty()) return;
    writeAll(seg.get(), pending, segPath());
    written += pending.size();
    pending.clear();
  }

  void addIndex(Lsn lsn, std::uint64_t offset) {
    // Not synced: readIndex trusts it only below the segment's size, and the writer rewrites
    // the last segment's index at recovery.
    writeAll(idx.get(), encodeIndexEntry({lsn, offset}), indexPath(options.dir, segStart));
  }

  void rollIfFull() {
    if (written + pending.size() < options.segmentBytes || end <= segStart) return;
    // Closed at a transaction boundary, and synced now: sync() only syncs the open segment,
    // and a closed one must be as durable as what follows it.
    flush();
    if (::fdatasync(seg.get()) != 0) throwErrno("fdatasync", segPath());
    openSegment(end, true);  // named by its start: the last commit end of the previous one
    written = 0;
  }
};

JournalWriter::JournalWriter(JournalOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->options.segmentBytes == 0) impl_->options.segmentBytes = 1;
  impl_->recover();
}

JournalWriter::~JournalWriter() = default;

void JournalWriter::startAt(Lsn start) {
  auto& d = *impl_;
  if (d.hasSegment) return;
  d.openSegment(start, true);
  d.start = d.end = start;
  d.written = 0;
}

bool JournalWriter::empty() const {
  return !impl_->hasSegment;
}

bool JournalWriter::begin(Lsn commitEnd) {
  auto& d = *impl_;
  if (!d.hasSegment)
    throw std::logic_error("journal " + d.options.dir.string() +
                           ": begin() before startAt() on an empty journal");
  if (d.inTxn) throw std::logic_error("journal: begin() inside a transaction");
  // Already journaled: the slot resends from its confirmed position, which may be behind
  // what is here (confirmed only after sync()). Skipping keeps each transaction once.
  if (commitEnd <= d.end) return false;
  d.rollIfFull();
  d.inTxn = true;
  d.txnLsn = commitEnd;
  d.txnOffset = d.written + d.pending.size();
  appendFrame(d.pending, FrameKind::Begin, commitEnd, {});
  return true;
}

void JournalWriter::append(Lsn dataStart, std::string_view payload) {
  auto& d = *impl_;
  if (!d.inTxn) throw std::logic_error("journal: append() outside a transaction");
  appendFrame(d.pending, FrameKind::Message, dataStart, payload);
  if (d.pending.size() >= kFlushBytes) d.flush();
}

void JournalWriter::commit() {
  auto& d = *impl_;
  if (!d.inTxn) throw std::logic_error("journal: commit() outside a transaction");
  appendFrame(d.pending, FrameKind::Commit, d.txnLsn, {});
  d.flush();  // visible to readers from here
  d.addIndex(d.txnLsn, d.txnOffset);
  d.end = d.txnLsn;
  d.inTxn = false;
}

void JournalWriter::abort() {
  auto& d = *impl_;
  if (!d.inTxn) return;
  d.pending.clear();
  if (d.written > d.txnOffset) {
    // Part of a large transaction was written out already: cut it (no reader yields it, it
    // has no Commit).
    if (::ftruncate(d.seg.get(), static_cast<off_t>(d.txnOffset)) != 0)
      throwErrno("truncate", d.segPath());
    if (::lseek(d.seg.get(), static_cast<off_t>(d.txnOffset), SEEK_SET) < 0)
      throwErrno("seek", d.segPath());
    d.written = d.txnOffset;
  }
  d.inTxn = false;
}

bool JournalWriter::inTransaction() const {
  return impl_->inTxn;
}

void JournalWriter::advance(Lsn position) {
  auto& d = *impl_;
  if (d.inTxn) throw std::logic_error("journal: advance() inside a transaction");
  if (!d.hasSegment || position <= d.end) return;
  d.rollIfFull();
  const std::uint64_t offset = d.written + d.pending.size();
  appendFrame(d.pending, FrameKind::Position, position, {});
  d.flush();
  d.addIndex(position, offset);
  d.end = position;
}

void JournalWriter::sync() {
  auto& d = *impl_;
  if (!d.hasSegment) return;
  if (!d.inTxn) d.flush();
  if (d.dirDirty) {
    // A new segment: its size and the directory entry must be durable too, or a crash could
    // lose the whole file with transactions the slot was told are safe.
    if (::fsync(d.seg.get()) != 0) throwErrno("fsync", d.segPath());
    fsyncDir(d.options.dir);
    d.dirDirty = false;
  } else if (::fdatasync(d.seg.get()) != 0) {
    throwErrno("fdatasync", d.segPath());
  }
  d.durableEnd = d.end;
}

Lsn JournalWriter::start() const {
  return impl_->start;
}
Lsn JournalWriter::end() const {
  return impl_->end;
}
Lsn JournalWriter::durableEnd() const {
  return impl_->durableEnd;
}

JournalWriter::Retention JournalWriter::applyRetention() {
  auto& d = *impl_;
  if (!d.hasSegment) return {};
  Retention r = journal::applyRetention(d.options, d.segStart);
  const auto starts = listSegments(d.options.dir);
  if (!starts.empty()) d.start = starts.front();
  return r;
}

}  // namespace pgmorph
