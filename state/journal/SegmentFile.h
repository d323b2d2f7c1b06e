// The journal directory's files: segment and index names (16 hex digits of the segment's start
// position), listing the segments in order, an owned file descriptor, fsync of the directory
// entry, and FrameScanner, which decodes frames from a segment file at any offset through a
// read buffer (pread, so one descriptor serves any position; the file may grow meanwhile).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdc/model/Lsn.h"
#include "state/journal/JournalFrame.h"

namespace pgmorph::journal {

std::string segmentName(Lsn start);  // "00000000016B374D.seg"
std::filesystem::path segmentPath(const std::filesystem::path& dir, Lsn start);
std::filesystem::path indexPath(const std::filesystem::path& dir, Lsn start);

// The segments' start positions, in order. Files that are not named like a segment are ignored.
std::vector<Lsn> listSegments(const std::filesystem::path& dir);

// An owned POSIX file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Opens `path` with `flags`; returns an empty Fd on ENOENT, throws otherwise naming the file.
Fd openFile(const std::filesystem::path& path, int flags, int mode = 0644);
std::uint64_t fileSize(int fd, const std::filesystem::path& pathForErrors);
// Writes all of `bytes` (retrying short writes); throws naming the file.
void writeAll(int fd, std::string_view bytes, const std::filesystem::path& pathForErrors);
void fsyncDir(const std::filesystem::path& dir);
// Throws std::system_error naming the operation and the file (errno at the call).
[[noreturn]] void throwErrno(const std::string& what, const std::filesystem::path& path);

// Decodes frames of one segment file by offset. The buffer keeps the last bytes read, so a
// forward scan reads the file in large chunks; a frame past the buffer is read again from the
// file, which is what lets it see what a writer appended since.
class FrameScanner {
 public:
  FrameScanner(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  // The frame at `offset`; its payload stays valid until the next call.
  DecodeStatus frameAt(std::uint64_t offset, DecodedFrame& out);
  // Forgets the buffered bytes: the next frameAt() reads the file again. After a tail did not
  // decode, since a writer may have cut it (abort, recovery) and written other bytes there.
  void invalidate();
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t bytesRead() const { return bytesRead_; }
  // The size the last decoded header announced (0 when even the header was short or its
  // length impossible): lets a caller tell a torn tail from a bad frame with bytes after it.
  std::size_t lastAnnouncedSize() const { return lastAnnounced_; }

 private:
  bool fill(std::uint64_t offset, std::size_t bytes);  // false at end of file

  int fd_;
  std::filesystem::path path_;
  std::string buffer_;
  std::uint64_t bufferAt_ = 0;
  std::uint64_t bytesRead_ = 0;
  std::size_t lastAnnounced_ = 0;
};

// One index entry: a transaction's commit end (or a Position's lsn) and the offset of its
// Begin (or Position) frame in the segment.
struct IndexEntry {
  Lsn lsn;
  std::uint64_t offset = 0;
};
inline constexpr std::size_t kIndexEntryBytes = 16;

// Reads the index entries that can be trusted: a trailing partial entry, and entries at or
// past `segmentSize` or out of order, end the list (the index is written after the segment
// and not synced, so after a crash it may be short, never authoritative).
std::vector<IndexEntry> readIndex(const std::filesystem::path& path, std::uint64_t segmentSize);
std::string encodeIndexEntry(IndexEntry entry);

}  // namespace pgmorph::journal
