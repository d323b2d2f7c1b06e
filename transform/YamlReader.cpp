#include "transform/YamlReader.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <vector>

#include "cdc/model/Errors.h"

namespace pgmorph {

void YamlReader::fail(int line, std::string_view path, std::string_view what) const {
  if (path.empty()) throw ConfigError(fmt::format("{}:{}: {}", file_, line, what));
  throw ConfigError(fmt::format("{}:{}: {}: {}", file_, line, path, what));
}

std::string_view YamlReader::kindName(const YAML::Node& node) const {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Null:
      return isExplicitNull(node) ? "null (write \"null\" in quotes for the text)" : "nothing";
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "something else";
}

bool YamlReader::isExplicitNull(const YAML::Node& node) const {
  if (!node.IsNull()) return false;
  int pos = node.Mark().pos;
  if (pos < 0 || static_cast<std::size_t>(pos) >= text_.size()) return false;
  std::string_view rest = text_.substr(pos);
  auto wordEnds = [&](std::size_t n) {
    return rest.size() == n ||
           !(std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_');
  };
  if (rest.starts_with("~")) return true;
  for (std::string_view word : {"null", "Null", "NULL"})
    if (rest.starts_with(word) && wordEnds(word.size())) return true;
  return false;
}

YAML::Node YamlReader::keyNode(const YAML::Node& map, std::string_view key) {
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string YamlReader::join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return fmt::format("{}.{}", path, key);
}

std::string YamlReader::index(std::string_view path, std::size_t i) {
  return fmt::format("{}[{}]", path, i);
}

void YamlReader::expectMap(const YAML::Node& node, std::string_view path) const {
  if (!node.IsMap()) fail(node, path, fmt::format("expected a map, got {}", kindName(node)));
}

void YamlReader::expectList(const YAML::Node& node, std::string_view path) const {
  if (!node.IsSequence()) fail(node, path, fmt::format("expected a list, got {}", kindName(node)));
}

void YamlReader::checkKeys(const YAML::Node& map, std::string_view path,
                           std::initializer_list<std::string_view> allowed) const {
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string k = key(it->first, path);
    bool known = false;
    for (auto a : allowed) known = known || a == k;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(it->first, join(path, k), fmt::format("unknown key (expected one of: {})", list));
    }
    for (const auto& s : seen)
      if (s == k) fail(it->first, join(path, k), "key appears twice");
    seen.push_back(std::move(k));
  }
}

void YamlReader::checkUnique(const YAML::Node& map, std::string_view path) const {
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string k = key(it->first, path);
    for (const auto& s : seen)
      if (s == k) fail(it->first, join(path, k), "key appears twice");
    seen.push_back(std::move(k));
  }
}

std::string YamlReader::key(const YAML::Node& node, std::string_view path) const {
  if (!node.IsScalar())
    fail(node, path, fmt::format("expected a name as key, got {}", kindName(node)));
  return node.Scalar();
}

std::string YamlReader::scalar(const YAML::Node& node, std::string_view path) const {
  if (!node.IsScalar()) fail(node, path, fmt::format("expected a value, got {}", kindName(node)));
  return expand(node.Scalar(), line(node), path);
}

std::string YamlReader::scalarOf(const YAML::Node& key, const YAML::Node& value,
                                 std::string_view path) const {
  if (!value.IsScalar())
    fail(lineOf(key, value), path, fmt::format("expected a value, got {}", kindName(value)));
  return expand(value.Scalar(), line(value), path);
}

YAML::Node YamlReader::requiredNode(const YAML::Node& map, std::string_view key,
                                    std::string_view path, std::string_view expected) const {
  const YAML::Node& m = map;
  YAML::Node n = m[std::string(key)];
  if (!n.IsDefined()) fail(map, path, fmt::format("missing required key '{}'", key));
  if (n.IsNull())
    fail(lineOf(keyNode(map, key), n), join(path, key),
         fmt::format("expected {}, got {}", expected, kindName(n)));
  return n;
}

YAML::Node YamlReader::optionalNode(const YAML::Node& map, std::string_view key,
                                    std::string_view path, std::string_view expected) const {
  const YAML::Node& m = map;
  YAML::Node n = m[std::string(key)];
  if (n.IsDefined() && n.IsNull())
    fail(lineOf(keyNode(map, key), n), join(path, key),
         fmt::format("expected {}, got {}", expected, kindName(n)));
  return n;
}

std::string YamlReader::required(const YAML::Node& map, std::string_view key,
                                 std::string_view path) const {
  YAML::Node value = requiredNode(map, key, path);
  return scalarOf(keyNode(map, key), value, join(path, key));
}

std::optional<std::string> YamlReader::optional(const YAML::Node& map, std::string_view key,
                                                std::string_view path) const {
  const YAML::Node& m = map;
  YAML::Node n = m[std::string(key)];
  if (!n.IsDefined()) return std::nullopt;
  return scalarOf(keyNode(map, key), n, join(path, key));
}

std::optional<std::uint64_t> YamlReader::optionalCount(const YAML::Node& map, std::string_view key,
                                                       std::string_view path,
                                                       std::uint64_t max) const {
  auto text = optional(map, key, path);
  if (!text) return std::nullopt;
  const YAML::Node& m = map;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value == 0 || value > max)
    fail(m[std::string(key)], join(path, key),
         fmt::format("expected a whole number from 1 to {}, got '{}'", max, *text));
  return value;
}

std::string YamlReader::expand(std::string_view text, int line, std::string_view path) const {
  if (text.find("${") == std::string_view::npos) return std::string(text);
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = text.find("${", pos);
    if (start == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, start - pos));
    std::size_t end = text.find('}', start + 2);
    if (end == std::string_view::npos)
      fail(line, path, "'${' without its closing '}' (write ${NAME} to use a variable)");
    std::string_view name = text.substr(start + 2, end - start - 2);
    bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name)
      valid = valid && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_');
    if (!valid)
      fail(line, path,
           fmt::format("'${{{}}}' is not a variable name (letters, digits and _)", name));
    std::optional<std::string> value = env_ ? env_(name) : std::nullopt;
    // The value itself is never echoed: it is often a password.
    if (!value)
      fail(line, path,
           fmt::format("${{{}}} is not set in the environment; export {} or write the value in "
                       "the file",
                       name, name));
    out.append(*value);
    pos = end + 1;
  }
  return out;
}

}  // namespace pgmorph
