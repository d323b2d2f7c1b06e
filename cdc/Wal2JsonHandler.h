// Wal2JsonHandler: the RapidJSON SAX handler behind Wal2JsonDecoder. It writes every
// parse event straight into a Change — no DOM, no allocation once the Change is warm —
// following the shape of one wal2json format-version 2 object:
//
//   {"action":"I","xid":1,"timestamp":"...","lsn":"0/1","schema":"s","table":"t",
//    "columns":[{"name":"id","type":"integer","value":1},...],"identity":[...]}
//
// Fields it does not know (origin, typeoid, pk, ... including nested arrays and objects)
// are skipped, so enabling more plugin options never breaks decoding. Numbers arrive as
// their exact text (the reader runs with kParseNumbersAsStringsFlag). A callback that
// meets something it cannot accept returns false and leaves the reason in error(); the
// reader then stops and the decoder reports it.
//
// The methods are defined inline here because the reader calls them several times per
// column; keeping them visible to the compiler lets the parse loop inline them.
#pragma once

#include "cdc/json/RapidJsonSetup.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "cdc/model/Change.h"

namespace pgmorph {

class Wal2JsonHandler {
 public:
  using SizeType = rapidjson::SizeType;

  // Starts a new message that will be written into `out`, whose arena holds the message
  // being parsed in situ (Change::adoptMessage): every string the reader hands over is
  // sliced, not copied.
  void reset(Change& out) {
    out_ = &out;
    place_ = Place::Outside;
    field_ = Field::Unknown;
    columnField_ = ColumnField::Unknown;
    skipDepth_ = 0;
    hasAction_ = hasSchema_ = hasTable_ = false;
    error_.clear();
  }
  // After the reader accepted a whole document: checks that the message has what its
  // action needs. On false, error() says what is missing.
  bool finish();
  const std::string& error() const { return error_; }

  // RapidJSON SAX interface.
  bool Null() { return scalar(ValueKind::Null, nullptr, 0); }
  bool Bool(bool b) {
    return b ? scalar(ValueKind::Bool, "true", 4) : scalar(ValueKind::Bool, "false", 5);
  }
  // Never called: numbers come through RawNumber with kParseNumbersAsStringsFlag.
  bool Int(int) { return numberNotAsText(); }
  bool Uint(unsigned) { return numberNotAsText(); }
  bool Int64(std::int64_t) { return numberNotAsText(); }
  bool Uint64(std::uint64_t) { return numberNotAsText(); }
  bool Double(double) { return numberNotAsText(); }
  bool RawNumber(const char* s, SizeType n, bool) { return scalar(ValueKind::Number, s, n); }
  bool String(const char* s, SizeType n, bool) { return scalar(ValueKind::String, s, n); }
  bool Key(const char* s, SizeType n, bool) {
    if (skipDepth_ > 0) return true;
    std::string_view key(s, n);
    if (place_ == Place::Message)
      field_ = messageField(key);
    else
      columnField_ = columnFieldOf(key);
    return true;
  }
  bool StartObject() { return nested(true); }
  bool StartArray() { return nested(false); }
  bool EndObject(SizeType) {
    if (skipDepth_ > 0) {
      --skipDepth_;
      return true;
    }
    if (place_ == Place::Column) return endColumn();
    place_ = Place::Done;  // the message object itself
    return true;
  }
  bool EndArray(SizeType) {
    if (skipDepth_ > 0) {
      --skipDepth_;
      return true;
    }
    place_ = Place::Message;  // end of "columns" / "identity"
    return true;
  }

 private:
  enum class Place : std::uint8_t { Outside, Message, Tuple, Column, Done };
  enum class Field : std::uint8_t {
    Unknown,
    Action,
    Xid,
    Timestamp,
    Lsn,
    NextLsn,
    Schema,
    Table,
    Columns,
    Identity,
    Transactional,
    Prefix,
    Content,
  };
  enum class ColumnField : std::uint8_t { Unknown, Name, Type, Value };

  static Field messageField(std::string_view key) {
    switch (key.size()) {
      case 3:
        if (key == "xid") return Field::Xid;
        if (key == "lsn") return Field::Lsn;
        break;
      case 5:
        if (key == "table") return Field::Table;
        break;
      case 6:
        if (key == "action") return Field::Action;
        if (key == "schema") return Field::Schema;
        if (key == "prefix") return Field::Prefix;
        break;
      case 7:
        if (key == "columns") return Field::Columns;
        if (key == "nextlsn") return Field::NextLsn;
        if (key == "content") return Field::Content;
        break;
      case 8:
        if (key == "identity") return Field::Identity;
        break;
      case 9:
        if (key == "timestamp") return Field::Timestamp;
        break;
      case 13:
        if (key == "transactional") return Field::Transactional;
        break;
    }
    return Field::Unknown;
  }
  static ColumnField columnFieldOf(std::string_view key) {
    if (key == "name") return ColumnField::Name;
    if (key == "type") return ColumnField::Type;
    if (key == "value") return ColumnField::Value;
    return ColumnField::Unknown;
  }

  bool scalar(ValueKind kind, const char* s, SizeType n) {
    if (skipDepth_ > 0) return true;
    switch (place_) {
      case Place::Message:
        return messageScalar(kind, std::string_view(s, n));
      case Place::Column:
        return columnScalar(kind, std::string_view(s, n));
      case Place::Tuple:
        return fail(std::string("each entry of \"") + tupleName() + "\" must be an object, not " +
                    kindName(kind));
      default:
        return fail(std::string("a message must be one JSON object, not ") + kindName(kind));
    }
  }
  bool columnScalar(ValueKind kind, std::string_view text) {
    switch (columnField_) {
      case ColumnField::Name:
        if (kind != ValueKind::String) return wrongType("column \"name\"", "a string", kind);
        column_.name = out_->sliceOf(text.data(), text.size());
        columnHasName_ = true;
        return true;
      case ColumnField::Type:
        if (kind != ValueKind::String) return wrongType("column \"type\"", "a string", kind);
        column_.type = out_->sliceOf(text.data(), text.size());
        return true;
      case ColumnField::Value:
        column_.value = valueSlice(kind, text);
        column_.kind = kind;
        columnHasValue_ = true;
        return true;
      case ColumnField::Unknown:
        return true;
    }
    return true;
  }
  // Strings and numbers are where the in-situ parse left them, inside the Change's arena;
  // the boolean literals are not, the Change keeps a copy of each.
  Slice valueSlice(ValueKind kind, std::string_view text) const {
    switch (kind) {
      case ValueKind::Null:
        return Slice{};
      case ValueKind::Bool:
        return text[0] == 't' ? Change::trueSlice() : Change::falseSlice();
      default:
        return out_->sliceOf(text.data(), text.size());
    }
  }
  bool nested(bool object) {
    if (skipDepth_ > 0) {
      ++skipDepth_;
      return true;
    }
    switch (place_) {
      case Place::Outside:
        if (!object) return fail("a message must be one JSON object, not an array");
        place_ = Place::Message;
        return true;
      case Place::Message:
        if (field_ == Field::Unknown) return skip();
        if (!object && (field_ == Field::Columns || field_ == Field::Identity)) {
          inIdentity_ = field_ == Field::Identity;
          place_ = Place::Tuple;
          return true;
        }
        return fail(std::string("\"") + fieldName() + "\" must not be " +
                    (object ? "an object" : "an array"));
      case Place::Tuple:
        if (!object)
          return fail(std::string("each entry of \"") + tupleName() +
                      "\" must be an object, not an array");
        place_ = Place::Column;
        columnField_ = ColumnField::Unknown;
        column_ = ColumnSlices{};
        columnHasName_ = columnHasValue_ = false;
        return true;
      case Place::Column:
        if (columnField_ == ColumnField::Unknown) return skip();
        return fail(std::string("a column's \"") +
                    (columnField_ == ColumnField::Value  ? "value"
                     : columnField_ == ColumnField::Name ? "name"
                                                         : "type") +
                    "\" must not be " + (object ? "an object" : "an array"));
      case Place::Done:
        break;
    }
    return fail("unexpected content after the message");
  }
  bool skip() {
    skipDepth_ = 1;
    return true;
  }
  bool endColumn() {
    if (!columnHasName_)
      return fail(std::string("an entry of \"") + tupleName() + "\" has no \"name\"");
    if (!columnHasValue_)
      return fail(std::string("column \"") + std::string(out_->text(column_.name)) + "\" of \"" +
                  tupleName() + "\" has no \"value\"");
    if (inIdentity_)
      out_->addIdentity(column_);
    else
      out_->addColumn(column_);
    place_ = Place::Tuple;
    return true;
  }
  const char* tupleName() const { return inIdentity_ ? "identity" : "columns"; }
  static const char* kindName(ValueKind kind) {
    switch (kind) {
      case ValueKind::Null:
        return "null";
      case ValueKind::Bool:
        return "a boolean";
      case ValueKind::Number:
        return "a number";
      case ValueKind::String:
        return "a string";
    }
    return "a value";
  }

  bool messageScalar(ValueKind kind, std::string_view text);  // Wal2JsonHandler.cpp
  const char* fieldName() const;
  bool wrongType(std::string_view field, std::string_view expected, ValueKind got);
  bool numberNotAsText();
  bool fail(std::string reason) {
    error_ = std::move(reason);
    return false;
  }

  Change* out_ = nullptr;
  Place place_ = Place::Outside;
  Field field_ = Field::Unknown;
  ColumnField columnField_ = ColumnField::Unknown;
  bool inIdentity_ = false;
  bool hasAction_ = false, hasSchema_ = false, hasTable_ = false;
  bool columnHasName_ = false, columnHasValue_ = false;
  std::uint32_t skipDepth_ = 0;  // > 0 while inside a value of a field we do not know
  ColumnSlices column_;
  std::string error_;
  // The last "timestamp" text parsed and its value (capacity kept: no allocation once warm).
  std::string lastTimestamp_;
  std::int64_t lastTimestampMicros_ = 0;
};

}  // namespace pgmorph
