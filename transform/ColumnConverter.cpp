#include "transform/ColumnConverter.h"

#include <fmt/format.h>

#include <algorithm>

#include "transform/Conversions.h"

namespace pgmorph {

namespace {
constexpr std::size_t kLinearMapLimit = 12;
constexpr std::size_t kMessageValueLimit = 60;
}  // namespace

ColumnConverter::ColumnConverter(const ColumnMapping& mapping, const SourceConfig& source,
                                 IdMapper& ids)
    : mapping_(&mapping), zoneSuffix_(" " + source.timezone) {
  if (mapping.ref) refIds_ = &ids.shared(*mapping.ref);
  if (mapping.map.size() > kLinearMapLimit) {
    sortedMap_ = mapping.map;
    std::sort(sortedMap_.begin(), sortedMap_.end());
  }
}

std::string ColumnConverter::quoteForMessage(std::string_view value) {
  if (value.size() <= kMessageValueLimit) return fmt::format("'{}'", value);
  // Cut on a UTF-8 character boundary so the message stays valid text.
  std::size_t cut = kMessageValueLimit;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return fmt::format("'{}...' ({} bytes)", value.substr(0, cut), value.size());
}

const std::string* ColumnConverter::recode(std::string_view value) const {
  if (sortedMap_.empty()) {
    for (const auto& [from, to] : mapping_->map)
      if (from == value) return &to;
    return nullptr;
  }
  auto it = std::lower_bound(sortedMap_.begin(), sortedMap_.end(), value,
                             [](const auto& entry, std::string_view v) { return entry.first < v; });
  if (it != sortedMap_.end() && it->first == value) return &it->second;
  return nullptr;
}

bool ColumnConverter::convert(const ColumnView* value, TargetWrite& out, std::string& why) const {
  const ColumnMapping& m = *mapping_;
  if (!value) {
    out.addAbsent();
    return true;
  }
  if (value->isNull()) {
    // The default is a target value as written in the mapping: it is not converted.
    if (m.defaultValue)
      out.addValue(*m.defaultValue);
    else
      out.addNull();
    return true;
  }
  std::string_view text = value->value;
  if (!m.map.empty()) {
    const std::string* to = recode(text);
    if (!to) {
      std::string known;
      for (const auto& [from, unused] : m.map) known += (known.empty() ? "" : ", ") + from;
      why = fmt::format("value {} is not one of the codes in its map (known: {})",
                        quoteForMessage(text), known);
      return false;
    }
    text = *to;
  }
  if (refIds_) {
    char buf[36];
    (*refIds_)(text).format(buf);
    out.addValue(std::string_view(buf, sizeof buf));
    return true;
  }
  switch (m.conversion) {
    case Conversion::None:
    case Conversion::Other:
      out.addValue(text);
      return true;
    case Conversion::Timestamptz:
      switch (conversions::classifyTimestamp(text)) {
        case conversions::TimestampShape::Naive:
          out.addStoredValue(out.store(text, zoneSuffix_));
          return true;
        case conversions::TimestampShape::WithOffset:
        case conversions::TimestampShape::Special:
          out.addValue(text);
          return true;
        case conversions::TimestampShape::Invalid:
          why = fmt::format("value {} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])",
                            quoteForMessage(text));
          return false;
      }
      break;
    case Conversion::Boolean:
      if (auto b = conversions::booleanText(text)) {
        out.addValue(*b);
        return true;
      }
      why = fmt::format("value {} is not a boolean (expected 0/1, true/false or t/f)",
                        quoteForMessage(text));
      return false;
    case Conversion::Jsonb: {
      std::string reason;
      if (conversions::isValidJson(text, &reason)) {
        out.addValue(text);
        return true;
      }
      why = fmt::format("value {} is not valid JSON ({})", quoteForMessage(text), reason);
      return false;
    }
  }
  why = "unknown conversion";
  return false;
}

}  // namespace pgmorph
