#include "cdc/tests/ChangeRenderer.h"

#include <fmt/format.h>

#include <cstdint>

namespace pgmorph::test {

namespace {

std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out += static_cast<char>(c);  // UTF-8 stays readable
    }
  }
  return out;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string value(std::string_view v) {
  constexpr std::size_t kLong = 100;
  if (v.size() <= kLong) return "\"" + escaped(v) + "\"";
  return fmt::format("<{} bytes, fnv1a {:016x}> \"{}...\"", v.size(), fnv1a(v),
                     escaped(v.substr(0, 40)));
}

std::string_view kindName(ValueKind k) {
  switch (k) {
    case ValueKind::Null:
      return "null";
    case ValueKind::Bool:
      return "bool";
    case ValueKind::Number:
      return "number";
    case ValueKind::String:
      return "string";
  }
  return "?";
}

void renderColumn(std::string& out, std::string_view role, const ColumnView& c) {
  out += fmt::format("  {} {} ({}): {}", role, c.name, c.type, kindName(c.kind));
  if (!c.isNull()) out += " " + value(c.value);
  out += '\n';
}

}  // namespace

std::string renderChange(const Change& change) {
  std::string out(toString(change.kind));
  switch (change.kind) {
    case ChangeKind::Begin:
    case ChangeKind::Commit:
      break;
    case ChangeKind::Message:
      out += fmt::format(" transactional={} prefix={} content={}", change.transactional,
                         value(change.prefix()), value(change.content()));
      break;
    default:
      out += fmt::format(" {}.{}", change.schema(), change.table());
  }
  out += '\n';
  for (std::size_t i = 0; i < change.columnCount(); ++i)
    renderColumn(out, "column", change.column(i));
  for (std::size_t i = 0; i < change.identityCount(); ++i)
    renderColumn(out, "identity", change.identity(i));
  return out;
}

}  // namespace pgmorph::test
