// JsonOut: an indented JSON document (a report a person may open) written by one RapidJSON
// PrettyWriter into a buffer it owns; raw() embeds a JSON value written elsewhere (the verify
// report) as it is. RapidJSON escapes every key and string.
#pragma once

#include "cdc/json/RapidJsonSetup.h"  // RapidJSON with pgmorph's settings

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgmorph {

class JsonOut {
 public:
  JsonOut() : writer_(buffer_) { writer_.SetIndent(' ', 2); }
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;

  void startObject() { writer_.StartObject(); }
  void endObject() { writer_.EndObject(); }
  void startArray() { writer_.StartArray(); }
  void endArray() { writer_.EndArray(); }
  void key(std::string_view k) { writer_.Key(k.data(), size(k)); }
  void string(std::string_view s) { writer_.String(s.data(), size(s)); }
  void number(double d) { writer_.Double(d); }
  void integer(std::int64_t n) { writer_.Int64(n); }
  void boolean(bool b) { writer_.Bool(b); }
  void null() { writer_.Null(); }
  void numberOrNull(const std::optional<double>& d) {
    if (d)
      number(*d);
    else
      null();
  }
  // A complete JSON object written elsewhere.
  void rawObject(std::string_view json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  std::string text() const { return std::string(buffer_.GetString(), buffer_.GetSize()) + "\n"; }

 private:
  static rapidjson::SizeType size(std::string_view s) {
    return static_cast<rapidjson::SizeType>(s.size());
  }
  rapidjson::StringBuffer buffer_;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer_;
};

}  // namespace pgmorph
