// Reads a pipeline file from disk and hands its text to the (pure) ConfigLoader, with the
// process environment for ${VAR} expansion. The only place config I/O happens: every command
// (follow, snapshot, run, parked, check, status, verify) reads the file through here, so an
// unreadable file is reported the same way everywhere, with the operating system's reason.
#pragma once

#include <string>
#include <string_view>

#include "transform/Config.h"

namespace pgmorph {

// The file's text. Throws ConfigError "cannot read pipeline file 'P': <reason>" when it cannot
// be read, the reason being the OS's ("No such file or directory", "Permission denied", "Is a
// directory").
std::string readPipelineFile(const std::string& path);

// Parses `text` read from `path` (named in error messages with the line).
PipelineConfig parsePipelineFile(const std::string& text, const std::string& path);

// readPipelineFile, then parsePipelineFile.
PipelineConfig loadConfigFile(const std::string& path);

// A pipeline that reads a journal may leave source.conninfo empty; a command that needs the
// source (`command`: "pgmorph verify", ...) calls this first. An empty conninfo must never reach
// libpq, which would connect to a local default server. Throws ConfigError saying what to set.
void requireSourceConninfo(const PipelineConfig& config, std::string_view command);

}  // namespace pgmorph
