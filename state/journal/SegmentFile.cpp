#include "state/journal/SegmentFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

namespace pgmorph::journal {

namespace fs = std::filesystem;

std::string segmentName(Lsn start) {
  char name[32];
  std::snprintf(name, sizeof name, "%016llX.seg", static_cast<unsigned long long>(start.value()));
  return name;
}

fs::path segmentPath(const fs::path& dir, Lsn start) {
  return dir / segmentName(start);
}

fs::path indexPath(const fs::path& dir, Lsn start) {
  return segmentPath(dir, start).replace_extension(".idx");
}

std::vector<Lsn> listSegments(const fs::path& dir) {
  std::vector<Lsn> starts;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 20 || name.substr(16) != ".seg") continue;
    std::uint64_t value = 0;
    bool ok = true;
    for (char c : name.substr(0, 16)) {
      int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (digit < 0) ok = false;
      value = value * 16 + static_cast<std::uint64_t>(std::max(digit, 0));
    }
    if (ok) starts.emplace_back(value);
  }
  if (ec) throw std::system_error(ec, "cannot list the journal directory " + dir.string());
  std::sort(starts.begin(), starts.end());
  return starts;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

void throwErrno(const std::string& what, const fs::path& path) {
  throw std::system_error(errno, std::generic_category(),
                          "journal: cannot " + what + " " + path.string());
}

Fd openFile(const fs::path& path, int flags, int mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == ENOENT) return Fd();
    throwErrno("open", path);
  }
  return Fd(fd);
}

std::uint64_t fileSize(int fd, const fs::path& pathForErrors) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throwErrno("stat", pathForErrors);
  return static_cast<std::uint64_t>(st.st_size);
}

void writeAll(int fd, std::string_view bytes, const fs::path& pathForErrors) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("write", pathForErrors);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsyncDir(const fs::path& dir) {
  Fd fd = openFile(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) throwErrno("open the directory", dir);
  if (::fsync(fd.get()) != 0) throwErrno("fsync the directory", dir);
}

bool FrameScanner::fill(std::uint64_t offset, std::size_t bytes) {
  // Reads at least `bytes` from `offset` into the buffer (more when the file has them: a
  // forward scan then decodes many frames per read).
  constexpr std::size_t kChunk = 1 << 20;
  const std::size_t want = std::max(bytes, kChunk);
  buffer_.resize(want);
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n =
        ::pread(fd_, buffer_.data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("read", path_);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  buffer_.resize(got);
  bufferAt_ = offset;
  bytesRead_ += got;
  return got >= bytes;
}

DecodeStatus FrameScanner::frameAt(std::uint64_t offset, DecodedFrame& out) {
  std::size_t needed = kFrameHeaderBytes;
  for (;;) {
    const bool inBuffer = offset >= bufferAt_ && offset + needed <= bufferAt_ + buffer_.size();
    if (!inBuffer) fill(offset, needed);
    const std::string_view bytes = offset >= bufferAt_ && offset <= bufferAt_ + buffer_.size()
                                       ? std::string_view(buffer_).substr(offset - bufferAt_)
                                       : std::string_view();
    std::size_t nowNeeded = 0;
    const DecodeStatus status = decodeFrame(bytes, out, nowNeeded);
    lastAnnounced_ = nowNeeded > kFrameHeaderBytes || status == DecodeStatus::Ok ? nowNeeded : 0;
    // The header announced more than is buffered: read that much and decode again (once: the
    // second read either has it or the file ends first).
    if (status == DecodeStatus::Incomplete && nowNeeded > needed) {
      needed = nowNeeded;
      continue;
    }
    return status;
  }
}

void FrameScanner::invalidate() {
  buffer_.clear();
  bufferAt_ = 0;
}

std::vector<IndexEntry> readIndex(const fs::path& path, std::uint64_t segmentSize) {
  std::vector<IndexEntry> entries;
  Fd fd = openFile(path, O_RDONLY);
  if (!fd) return entries;
  const std::uint64_t size = fileSize(fd.get(), path);
  std::string bytes(size - size % kIndexEntryBytes, '\0');
  if (!bytes.empty()) {
    const ssize_t n = ::pread(fd.get(), bytes.data(), bytes.size(), 0);
    if (n < 0) throwErrno("read", path);
    bytes.resize(static_cast<std::size_t>(n) - static_cast<std::size_t>(n) % kIndexEntryBytes);
  }
  for (std::size_t at = 0; at < bytes.size(); at += kIndexEntryBytes) {
    std::uint64_t lsn = 0, offset = 0;
    for (int i = 7; i >= 0; --i) {
      lsn = (lsn << 8) | static_cast<unsigned char>(bytes[at + i]);
      offset = (offset << 8) | static_cast<unsigned char>(bytes[at + 8 + i]);
    }
    if (offset >= segmentSize) break;
    if (!entries.empty() && (lsn <= entries.back().lsn.value() || offset <= entries.back().offset))
      break;
    entries.push_back({Lsn(lsn), offset});
  }
  return entries;
}

std::string encodeIndexEntry(IndexEntry entry) {
  std::string out(kIndexEntryBytes, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((entry.lsn.value() >> (8 * i)) & 0xFF);
    out[8 + i] = static_cast<char>((entry.offset >> (8 * i)) & 0xFF);
  }
  return out;
}

}  // namespace pgmorph::journal
