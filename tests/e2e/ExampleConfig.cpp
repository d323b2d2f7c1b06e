#include "tests/e2e/ExampleConfig.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
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

// First non-blank character after `from`, skipping a trailing `# comment`: npos if none.
std::size_t valueStart(std::string_view line, std::size_t from) {
  std::size_t at = line.find_first_not_of(' ', from);
  return at == std::string::npos || line[at] == '#' ? std::string::npos : at;
}

// The suite-wide number of apply sessions, when PGMORPH_TEST_APPLY_SESSIONS is set.
std::optional<unsigned> testApplySessions() {
  const char* text = std::getenv("PGMORPH_TEST_APPLY_SESSIONS");
  if (!text || !*text) return std::nullopt;
  std::string_view v(text);
  unsigned n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n == 0)
    throw std::runtime_error(fmt::format(
        "PGMORPH_TEST_APPLY_SESSIONS='{}': expected a positive integer (apply.sessions)", v));
  return n;
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

std::string withApplySessions(const std::string& yaml, unsigned sessions) {
  std::vector<std::string> lines;
  {
    std::istringstream in(yaml);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  auto isContent = [](const std::string& line) {
    std::size_t indent = indentOf(line);
    return indent != std::string::npos && line[indent] != '#';
  };
  auto join = [&] {
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
  };
  std::optional<std::size_t> apply;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!isContent(lines[i]) || indentOf(lines[i]) != 0 || !startsWith(lines[i], "apply:"))
      continue;
    if (apply) throw std::runtime_error("two top-level 'apply:' sections in a pipeline file");
    apply = i;
  }
  std::string entry = fmt::format("sessions: {}", sessions);
  if (!apply) {
    lines.push_back("apply: { " + entry + " }");
    return join();
  }

  std::string& line = lines[*apply];
  std::size_t value = valueStart(line, std::string_view("apply:").size());
  if (value != std::string::npos && line[value] == '{') {
    // Flow map: `apply: { a: 1, b: 2 }` (on one line, as the tests write it).
    if (line.find("sessions:", value) != std::string::npos) return join();
    std::size_t first = line.find_first_not_of(' ', value + 1);
    if (first != std::string::npos && line[first] == '}')
      line.replace(value, first + 1 - value, "{ " + entry + " }");
    else
      line.insert(value + 1, " " + entry + ",");
    return join();
  }
  if (value != std::string::npos)
    throw std::runtime_error(fmt::format(
        "cannot add '{}' to the pipeline's '{}': neither a block nor a flow map", entry, line));

  // Block map: the keys indented below `apply:` up to the next top-level line.
  std::size_t childIndent = 0;
  for (std::size_t i = *apply + 1; i < lines.size() && childIndent == 0; ++i) {
    if (!isContent(lines[i])) continue;
    childIndent = indentOf(lines[i]);
    if (childIndent == 0) break;
  }
  if (childIndent == 0) {  // `apply:` with nothing below it
    line = "apply: { " + entry + " }";
    return join();
  }
  for (std::size_t i = *apply + 1; i < lines.size(); ++i) {
    if (!isContent(lines[i])) continue;
    std::size_t indent = indentOf(lines[i]);
    if (indent == 0) break;
    if (indent == childIndent && startsWith(std::string_view(lines[i]).substr(indent), "sessions:"))
      return join();
  }
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(*apply) + 1,
               std::string(childIndent, ' ') + entry);
  return join();
}

void writePipelineFile(const std::string& path, const std::string& yaml) {
  auto sessions = testApplySessions();
  std::ofstream out(path);
  out << (sessions ? withApplySessions(yaml, *sessions) : yaml);
  out.close();
  if (!out) throw std::runtime_error("cannot write the pipeline file " + path);
}

}  // namespace pgmorph::e2e
