// Reads a pipeline file from disk and hands its text to the (pure) ConfigLoader, with the
// process environment for ${VAR} expansion. The only place config I/O happens.
#pragma once

#include <string>

#include "transform/Config.h"

namespace pgmorph {

PipelineConfig loadConfigFile(const std::string& path);

}  // namespace pgmorph
