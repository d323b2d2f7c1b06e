// asciiJson: a JSON document with every non-ASCII character written as a \uXXXX escape (a
// surrogate pair above U+FFFF) — the same document to any JSON reader, in bytes that every
// database encoding holds. pgmorph's parked rows keep a row's values in `json` columns on the
// target; PostgreSQL's json type takes any \u escape whatever the database's encoding, while
// the character itself is refused by a database whose encoding lacks it (an emoji in LATIN1) —
// the very reason such a row was refused, so parking it would fail the same way.
//
// RapidJSON does the work (a Reader feeding a Writer whose output encoding is ASCII); numbers
// are passed through as their text (never re-formatted through a double). A document that is
// ASCII already is returned as it is, and so is one that is not valid UTF-8 (a SQL_ASCII
// source's bytes): it is stored as before, and the database decides.
#pragma once

#include "cdc/json/RapidJsonSetup.h"  // RapidJSON with pgmorph's settings

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string>

namespace pgmorph {

namespace detail {

// RapidJSON's Writer writes a raw number as a string: this one writes it as the number it is.
class AsciiJsonCopy
    : public rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>> {
 public:
  using Writer::Writer;
  bool RawNumber(const Ch* text, rapidjson::SizeType length, bool /*copy*/) {
    return RawValue(text, length, rapidjson::kNumberType);
  }
};

}  // namespace detail

inline std::string asciiJson(std::string json) {
  if (std::none_of(json.begin(), json.end(), [](char c) { return (c & 0x80) != 0; })) return json;
  rapidjson::StringBuffer out;
  detail::AsciiJsonCopy writer(out);
  rapidjson::Reader reader;
  rapidjson::StringStream in(json.c_str());
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseStopWhenDoneFlag;
  if (!reader.Parse<kFlags>(in, writer) || !writer.IsComplete()) return json;
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace pgmorph
