// YamlReader: typed, checked access to one pipeline file's YAML tree, for ConfigLoader.
//
// It owns the file's error conventions: every problem is a ConfigError reading
// "<file>:<line>: <path>: <what>" (path like tables.dispatch_doctor[0].columns.user_id),
// and every scalar value goes through ${VAR} expansion from the injected environment
// lookup (so transform/ itself never reads the environment). Map keys are not expanded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "transform/ConfigLoader.h"

namespace pgmorph {

class YamlReader {
 public:
  // `text` is the YAML the nodes were parsed from (it tells an explicit `null` from an
  // empty value, which yaml-cpp does not); it must outlive the reader.
  YamlReader(std::string file, std::string_view text, const EnvLookup& env)
      : file_(std::move(file)), text_(text), env_(env) {}

  const std::string& file() const { return file_; }
  static int line(const YAML::Node& node) { return node.Mark().line + 1; }

  [[noreturn]] void fail(int line, std::string_view path, std::string_view what) const;
  [[noreturn]] void fail(const YAML::Node& at, std::string_view path, std::string_view what) const {
    fail(line(at), path, what);
  }

  // Throws "expected a map/list/value, got ..." unless the node has that shape.
  void expectMap(const YAML::Node& node, std::string_view path) const;
  void expectList(const YAML::Node& node, std::string_view path) const;
  // Every key of `map` must be one of `allowed`, and appear once.
  void checkKeys(const YAML::Node& map, std::string_view path,
                 std::initializer_list<std::string_view> allowed) const;

  // Every key of `map` is a scalar that appears once (for maps of user-chosen names).
  void checkUnique(const YAML::Node& map, std::string_view path) const;

  // A scalar's text with ${VAR} expanded. A YAML null (`key:` with nothing, `~`, `null`)
  // is a wrong type here: an empty value must be written as "", the text null as "null".
  std::string scalar(const YAML::Node& node, std::string_view path) const;
  // True for a value written as null / Null / NULL / ~ (not for an empty one).
  bool isExplicitNull(const YAML::Node& node) const;
  // The line to report for `value`, the value of `key`: an empty value has no position of
  // its own (yaml-cpp gives the next token's), so it is reported at its key.
  int lineOf(const YAML::Node& key, const YAML::Node& value) const {
    return value.IsNull() && !isExplicitNull(value) ? line(key) : line(value);
  }
  // The text of a map key (not expanded).
  std::string key(const YAML::Node& node, std::string_view path) const;

  std::string required(const YAML::Node& map, std::string_view key, std::string_view path) const;
  std::optional<std::string> optional(const YAML::Node& map, std::string_view key,
                                      std::string_view path) const;
  // Throws "missing required key" (at the map's line) when absent, and "expected <what>,
  // got nothing" (at the key's line) when the key has no value.
  YAML::Node requiredNode(const YAML::Node& map, std::string_view key, std::string_view path,
                          std::string_view expected = "a value") const;
  // The value of an optional key: an undefined node when absent; no value is an error.
  YAML::Node optionalNode(const YAML::Node& map, std::string_view key, std::string_view path,
                          std::string_view expected) const;
  // A positive integer option (apply.batch_changes and the like).
  std::optional<std::uint64_t> optionalCount(const YAML::Node& map, std::string_view key,
                                             std::string_view path, std::uint64_t max) const;

  static std::string join(std::string_view path, std::string_view key);
  static std::string index(std::string_view path, std::size_t i);
  std::string_view kindName(const YAML::Node& node) const;
  // The key node of `key` in `map` (undefined node when absent).
  static YAML::Node keyNode(const YAML::Node& map, std::string_view key);

 private:
  std::string scalarOf(const YAML::Node& key, const YAML::Node& value, std::string_view path) const;
  std::string expand(std::string_view text, int line, std::string_view path) const;

  std::string file_;
  std::string_view text_;
  const EnvLookup& env_;
};

}  // namespace pgmorph
