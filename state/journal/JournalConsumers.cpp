// JournalConsumers: consumers/<name>.pos holds one line, the consumer's applied position in
// the server's "X/X" form; the file's modification time is when it was recorded.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <system_error>

#include "cdc/model/Errors.h"
#include "state/journal/Journal.h"
#include "state/journal/SegmentFile.h"

namespace pgmorph {

namespace fs = std::filesystem;
using journal::Fd;

JournalConsumers::JournalConsumers(fs::path dir) : dir_(std::move(dir)) {}

void JournalConsumers::record(const std::string& name, Lsn applied) {
  const bool nameOk = !name.empty() && name.find_first_of("/\\\n") == std::string::npos &&
                      name != "." && name != ".." && name.front() != '.';
  if (!nameOk)
    throw ConfigError("journal consumer name '" + name +
                      "' cannot be a file name: use letters, digits, '-' and '_'");
  const fs::path consumers = dir_ / "consumers";
  std::error_code ec;
  if (fs::create_directories(consumers, ec)) journal::fsyncDir(dir_);
  if (ec) journal::throwErrno("create", consumers);
  const fs::path final = consumers / (name + ".pos");
  const fs::path temp = consumers / ("." + name + ".pos.tmp");
  // Temporary file, fsync, rename, fsync of the directory: retention reads either the old
  // position or the new one, never a torn file, and after a crash never an older one than
  // the target's checkpoint had when record() returned.
  {
    Fd fd = journal::openFile(temp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!fd) journal::throwErrno("create", temp);
    journal::writeAll(fd.get(), applied.str() + "\n", temp);
    if (::fsync(fd.get()) != 0) journal::throwErrno("fsync", temp);
  }
  fs::rename(temp, final);
  journal::fsyncDir(consumers);
}

std::vector<JournalInfo::Consumer> JournalConsumers::list() const {
  std::vector<JournalInfo::Consumer> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ / "consumers", ec)) {
    const fs::path& path = entry.path();
    const std::string file = path.filename().string();
    if (path.extension() != ".pos" || file.front() == '.') continue;
    std::ifstream in(path);
    std::string line;
    Lsn applied;
    if (!std::getline(in, line) || !Lsn::tryParse(line, applied)) continue;  // being replaced
    std::error_code timeEc;
    const auto mtime = fs::last_write_time(path, timeEc);
    const auto updated = std::chrono::file_clock::to_sys(mtime);
    out.push_back({path.stem().string(), applied,
                   timeEc ? std::chrono::system_clock::time_point{} : updated});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace pgmorph
