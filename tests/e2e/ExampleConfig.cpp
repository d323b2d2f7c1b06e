#include "tests/e2e/ExampleConfig.h"

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "tests/support/PgCluster.h"

namespace pgmorph::e2e {

namespace {

std::string readExample() {
  std::ifstream in(exampleMappingPath());
  if (!in) throw std::runtime_error("cannot read " + exampleMappingPath());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::size_t indentOf(std::string_view line) {
  return line.find_first_not_of(' ');
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string exampleMappingPath() {
  return test::sourceDir() + "/deploy/examples/dispatch/mapping.yaml";
}

std::string exampleConfig(const ExampleSettings& s) {
  // (section, key) -> new value line; section "" is the top level.
  std::map<std::pair<std::string, std::string>, std::string> replacements = {
      {{"", "pipeline"}, "pipeline: " + quoted(s.pipeline)},
      {{"source", "conninfo"}, "  conninfo: " + quoted(s.sourceConninfo)},
      {{"source", "slot"}, "  slot: " + quoted(s.slot)},
      {{"target", "conninfo"}, "  conninfo: " + quoted(s.targetConninfo)},
      {{"target", "state_schema"}, "  state_schema: " + quoted(s.stateSchema)},
  };
  std::map<std::pair<std::string, std::string>, int> done;
  std::vector<int> edited(s.edits.size(), 0);

  std::istringstream in(readExample());
  std::string out, line, section;
  while (std::getline(in, line)) {
    std::size_t indent = indentOf(line);
    bool content = indent != std::string::npos && line[indent] != '#';
    if (content && indent == 0) section = line.substr(0, line.find(':'));
    for (const auto& [where, replacement] : replacements) {
      const auto& [sec, key] = where;
      bool topLevel = sec.empty();
      if (!content) continue;
      if (topLevel ? indent != 0 : (indent != 2 || section != sec)) continue;
      if (!startsWith(std::string_view(line).substr(indent), key + ":")) continue;
      line = replacement;
      ++done[where];
    }
    for (std::size_t e = 0; e < s.edits.size(); ++e) {
      std::size_t at = line.find(s.edits[e].from);
      if (at == std::string::npos) continue;
      line.replace(at, s.edits[e].from.size(), s.edits[e].to);
      ++edited[e];
    }
    out += line + "\n";
  }
  for (std::size_t e = 0; e < s.edits.size(); ++e) {
    if (edited[e] != 1)
      throw std::runtime_error(fmt::format("{}: expected exactly one line with '{}', found {}",
                                           exampleMappingPath(), s.edits[e].from, edited[e]));
  }
  for (const auto& [where, replacement] : replacements) {
    if (done[where] != 1)
      throw std::runtime_error(fmt::format(
          "{}: expected exactly one '{}:' line{}, found {}; update tests/e2e/ExampleConfig.cpp",
          exampleMappingPath(), where.second,
          where.first.empty() ? std::string(" at the top level") : " under " + where.first + ":",
          done[where]));
  }
  return out;
}

std::string exampleIdNamespace() {
  std::istringstream in(readExample());
  std::string line, section;
  while (std::getline(in, line)) {
    std::size_t indent = indentOf(line);
    if (indent == std::string::npos || line[indent] == '#') continue;
    if (indent == 0) section = line.substr(0, line.find(':'));
    if (section == "ids" && indent == 2 && startsWith(line.substr(2), "namespace:")) {
      std::string value = line.substr(line.find(':') + 1);
      value = value.substr(0, value.find('#'));
      value.erase(0, value.find_first_not_of(" \"'"));
      value.erase(value.find_last_not_of(" \"'") + 1);
      return value;
    }
  }
  throw std::runtime_error(exampleMappingPath() + ": no ids.namespace");
}

}  // namespace pgmorph::e2e
