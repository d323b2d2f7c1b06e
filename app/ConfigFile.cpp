#include "app/ConfigFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"

namespace pgmorph {

namespace {

[[noreturn]] void unreadable(const std::string& path, int error) {
  throw ConfigError("cannot read pipeline file '" + path + "': " + std::strerror(error));
}

// Closes the descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string readPipelineFile(const std::string& path) {
  // POSIX calls rather than std::ifstream: an ifstream opens a directory "successfully" and
  // reads nothing (the loader then said "the file is empty"), and it keeps errno to itself.
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) unreadable(path, errno);
  struct stat st;
  if (::fstat(file.fd, &st) != 0) unreadable(path, errno);
  if (S_ISDIR(st.st_mode)) unreadable(path, EISDIR);
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(file.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) unreadable(path, errno);
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

PipelineConfig parsePipelineFile(const std::string& text, const std::string& path) {
  return ConfigLoader::fromString(text, path,
                                  [](std::string_view name) -> std::optional<std::string> {
                                    const char* v = std::getenv(std::string(name).c_str());
                                    if (!v) return std::nullopt;
                                    return std::string(v);
                                  });
}

PipelineConfig loadConfigFile(const std::string& path) {
  return parsePipelineFile(readPipelineFile(path), path);
}

void requireSourceConninfo(const PipelineConfig& config, std::string_view command) {
  if (!config.source.conninfo.empty()) return;
  throw ConfigError(fmt::format(
      "{}: {} needs the source database, but pipeline '{}' reads the journal in {} without "
      "source.conninfo: set source.conninfo in its source section",
      config.file, command, config.pipeline, config.source.journal));
}

}  // namespace pgmorph
