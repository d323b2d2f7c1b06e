#include "app/ConfigFile.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"

namespace pgmorph {

PipelineConfig loadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read pipeline file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return ConfigLoader::fromString(text.str(), path,
                                  [](std::string_view name) -> std::optional<std::string> {
                                    const char* v = std::getenv(std::string(name).c_str());
                                    if (!v) return std::nullopt;
                                    return std::string(v);
                                  });
}

}  // namespace pgmorph
