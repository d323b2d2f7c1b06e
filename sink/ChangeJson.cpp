#include "sink/ChangeJson.h"

#include <fmt/format.h>

#include "cdc/json/AsciiJson.h"
#include "cdc/json/JsonWriter.h"

#include <rapidjson/document.h>

#include <stdexcept>

namespace pgmorph::ChangeJson {

namespace {

char kindCode(ValueKind k) {
  switch (k) {
    case ValueKind::Null:
      return 'n';
    case ValueKind::Bool:
      return 'b';
    case ValueKind::Number:
      return '#';
    case ValueKind::String:
      return 's';
  }
  return 's';
}

char changeCode(const Change& change) {
  switch (change.kind) {
    case ChangeKind::Insert:
      return 'I';
    case ChangeKind::Update:
      return 'U';
    case ChangeKind::Delete:
      return 'D';
    case ChangeKind::Truncate:
      return 'T';
    default:
      throw std::invalid_argument(
          fmt::format("a {} message is not a row change", toString(change.kind)));
  }
}

void writeColumns(JsonWriter& json, const Change& c, bool identity) {
  json.startArray();
  std::size_t n = identity ? c.identityCount() : c.columnCount();
  for (std::size_t i = 0; i < n; ++i) {
    ColumnView v = identity ? c.identity(i) : c.column(i);
    json.startArray();
    json.string(v.name);
    json.string(v.type);
    json.string(kindCode(v.kind));
    json.string(v.value);
    json.endArray();
  }
  json.endArray();
}

std::string_view text(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

}  // namespace

std::string encode(const Change& change) {
  const char kind = changeCode(change);
  JsonWriter json;
  json.startObject();
  json.key("k");
  json.string(kind);
  json.key("x");
  json.number(change.xid);
  json.key("l");
  json.string(change.lsn.str());
  json.key("s");
  json.string(change.schema());
  json.key("t");
  json.string(change.table());
  json.key("c");
  writeColumns(json, change, false);
  json.key("i");
  writeColumns(json, change, true);
  json.endObject();
  // Stored in a json column of the target, whatever its encoding (see AsciiJson.h).
  return asciiJson(json.text());
}

void decode(std::string_view json, Change& out) {
  auto bad = [&](const char* why) {
    return std::invalid_argument(
        fmt::format("a parked source change is not what pgmorph stores ({}): {:.200}", why, json));
  };
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) throw bad("not a JSON object");
  for (const char* f : {"k", "l", "s", "t"})
    if (!doc.HasMember(f) || !doc[f].IsString()) throw bad("a field is missing");
  if (!doc.HasMember("c") || !doc["c"].IsArray() || !doc.HasMember("i") || !doc["i"].IsArray())
    throw bad("columns are missing");
  out.clear();
  std::string_view k = text(doc["k"]);
  if (k == "I")
    out.kind = ChangeKind::Insert;
  else if (k == "U")
    out.kind = ChangeKind::Update;
  else if (k == "D")
    out.kind = ChangeKind::Delete;
  else if (k == "T")
    out.kind = ChangeKind::Truncate;
  else
    throw bad("unknown change kind");
  if (doc.HasMember("x") && doc["x"].IsUint()) out.xid = doc["x"].GetUint();
  if (!Lsn::tryParse(text(doc["l"]), out.lsn)) throw bad("bad LSN");
  out.setSchema(text(doc["s"]));
  out.setTable(text(doc["t"]));
  for (bool identity : {false, true}) {
    for (const auto& c : doc[identity ? "i" : "c"].GetArray()) {
      if (!c.IsArray() || c.Size() != 4 || !c[0].IsString() || !c[1].IsString() ||
          !c[2].IsString() || !c[3].IsString() || c[2].GetStringLength() != 1)
        throw bad("a column is not [name, type, kind, value]");
      ValueKind kind;
      switch (c[2].GetString()[0]) {
        case 'n':
          kind = ValueKind::Null;
          break;
        case 'b':
          kind = ValueKind::Bool;
          break;
        case '#':
          kind = ValueKind::Number;
          break;
        case 's':
          kind = ValueKind::String;
          break;
        default:
          throw bad("unknown value kind");
      }
      if (identity)
        out.addIdentity(text(c[0]), text(c[1]), text(c[3]), kind);
      else
        out.addColumn(text(c[0]), text(c[1]), text(c[3]), kind);
    }
  }
}

}  // namespace pgmorph::ChangeJson
