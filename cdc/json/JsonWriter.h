// JsonWriter: one JSON document written by one RapidJSON Writer into a buffer it owns. The
// document is compact (no whitespace); RapidJSON escapes every key and string (quotes,
// backslashes, control characters as \uXXXX, NUL included) and passes every other byte as it
// is, like the UTF-8 it is. The caller writes the document's structure in calls; text() is
// the finished document once every array and object is closed.
#pragma once

#include "cdc/json/RapidJsonSetup.h"  // RapidJSON with pgmorph's settings

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgmorph {

class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void startObject() { writer_.StartObject(); }
  void endObject() { writer_.EndObject(); }
  void startArray() { writer_.StartArray(); }
  void endArray() { writer_.EndArray(); }
  void key(std::string_view k) { writer_.Key(k.data(), length(k)); }
  void string(std::string_view s) { writer_.String(s.data(), length(s)); }
  void string(char c) { writer_.String(&c, 1); }  // a one-character code
  void number(std::uint32_t n) { writer_.Uint(n); }
  void integer(std::int64_t n) { writer_.Int64(n); }
  void unsignedInteger(std::uint64_t n) { writer_.Uint64(n); }
  void real(double d) { writer_.Double(d); }
  void boolean(bool b) { writer_.Bool(b); }
  void null() { writer_.Null(); }
  // A finished JSON document (another writer's text()) as the next value, as it is.
  void raw(std::string_view json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  // The text, or null when there is none.
  void stringOrNull(const std::optional<std::string>& s) {
    if (s)
      string(*s);
    else
      null();
  }

  std::string text() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  static rapidjson::SizeType length(std::string_view s) {
    return static_cast<rapidjson::SizeType>(s.size());
  }
  rapidjson::StringBuffer buffer_;  // before writer_, which writes into it
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace pgmorph
