#include "state/ParkedValuesJson.h"

#include <fmt/format.h>

#include "cdc/json/AsciiJson.h"
#include "cdc/json/JsonWriter.h"

#include <rapidjson/document.h>

#include <stdexcept>

namespace pgmorph {

std::string encodeParkedValues(std::span<const ParkedValue> values) {
  JsonWriter json;
  json.startArray();
  for (const auto& v : values) {
    json.startArray();
    json.string(v.column);
    json.string(static_cast<char>(v.state));
    if (v.state == ParkedValue::State::Present) json.string(v.text);
    json.endArray();
  }
  json.endArray();
  // Stored in a json column of the target, whatever its encoding (see AsciiJson.h).
  return asciiJson(json.text());
}

std::vector<ParkedValue> decodeParkedValues(std::string_view json) {
  std::vector<ParkedValue> out;
  if (json.empty()) return out;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  auto bad = [&](const char* why) {
    return std::invalid_argument(
        fmt::format("parked write values are not what pgmorph stores "
                    "({}): {:.200}",
                    why, json));
  };
  if (doc.HasParseError() || !doc.IsArray()) throw bad("not a JSON array");
  for (const auto& item : doc.GetArray()) {
    if (!item.IsArray() || item.Size() < 2 || !item[0].IsString() || !item[1].IsString() ||
        item[1].GetStringLength() != 1)
      throw bad("an item is not [column, state, text]");
    ParkedValue v;
    v.column.assign(item[0].GetString(), item[0].GetStringLength());
    char state = item[1].GetString()[0];
    if (state != 'P' && state != 'N' && state != 'A') throw bad("unknown value state");
    v.state = static_cast<ParkedValue::State>(state);
    if (v.state == ParkedValue::State::Present) {
      if (item.Size() < 3 || !item[2].IsString()) throw bad("a present value without text");
      v.text.assign(item[2].GetString(), item[2].GetStringLength());
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace pgmorph
