#include "state/journal/WriterLock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "cdc/model/Errors.h"

namespace pgmorph::journal {

WriterLock::WriterLock(const std::filesystem::path& dir) {
  const auto path = dir / "writer.lock";
  fd_ = openFile(path, O_RDWR | O_CREAT);
  if (!fd_) throwErrno("create", path);
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throwErrno("lock", path);
    char pid[32] = {};
    const ssize_t n = ::pread(fd_.get(), pid, sizeof pid - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw PgmorphError(ErrorClass::Operator,
                       "journal " + dir.string() + " is already being written by process " +
                           holder + " (it holds " + path.string() +
                           "); one journal has one writer: stop that process, or give this "
                           "pipeline its own journal directory");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) != 0) throwErrno("truncate", path);
  if (::pwrite(fd_.get(), pid.data(), pid.size(), 0) < 0) throwErrno("write", path);
}

}  // namespace pgmorph::journal
