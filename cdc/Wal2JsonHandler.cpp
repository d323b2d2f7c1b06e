#include "cdc/Wal2JsonHandler.h"

#include <charconv>

#include "cdc/IsoTimestamp.h"

namespace pgmorph {

namespace {

bool actionKind(std::string_view text, ChangeKind& kind) {
  if (text.size() != 1) return false;
  switch (text[0]) {
    case 'B':
      kind = ChangeKind::Begin;
      return true;
    case 'C':
      kind = ChangeKind::Commit;
      return true;
    case 'I':
      kind = ChangeKind::Insert;
      return true;
    case 'U':
      kind = ChangeKind::Update;
      return true;
    case 'D':
      kind = ChangeKind::Delete;
      return true;
    case 'T':
      kind = ChangeKind::Truncate;
      return true;
    case 'M':
      kind = ChangeKind::Message;
      return true;
  }
  return false;
}

}  // namespace

bool Wal2JsonHandler::messageScalar(ValueKind kind, std::string_view text) {
  Change& out = *out_;
  switch (field_) {
    case Field::Unknown:
      return true;
    case Field::Action:
      if (kind != ValueKind::String) return wrongType("\"action\"", "a string", kind);
      if (!actionKind(text, out.kind))
        return fail("unknown action \"" + std::string(text.substr(0, 40)) +
                    "\" (expected B, C, I, U, D, T or M from wal2json format-version 2)");
      hasAction_ = true;
      return true;
    case Field::Xid: {
      // Non-transactional messages carry "xid":null.
      if (kind == ValueKind::Null) return true;
      if (kind != ValueKind::Number) return wrongType("\"xid\"", "a number", kind);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out.xid);
      if (ec != std::errc() || end != text.data() + text.size())
        return fail("\"xid\" is not a transaction id: " + std::string(text.substr(0, 40)));
      return true;
    }
    case Field::Timestamp:
      if (kind == ValueKind::Null) return true;  // non-transactional messages
      if (kind != ValueKind::String) return wrongType("\"timestamp\"", "a string", kind);
      // Every row change of a transaction repeats its commit time: parse each text once.
      if (text == lastTimestamp_) {
        out.commitTimeMicros = lastTimestampMicros_;
        return true;
      }
      if (!parseIsoTimestamptz(text, out.commitTimeMicros))
        return fail("\"timestamp\" is not an ISO timestamp with time zone: \"" +
                    std::string(text.substr(0, 60)) +
                    "\" (the replication session must use DateStyle=ISO and TimeZone=UTC)");
      lastTimestamp_.assign(text);
      lastTimestampMicros_ = out.commitTimeMicros;
      return true;
    case Field::Lsn:
    case Field::NextLsn: {
      if (kind == ValueKind::Null) return true;
      const char* name = field_ == Field::Lsn ? "\"lsn\"" : "\"nextlsn\"";
      if (kind != ValueKind::String) return wrongType(name, "a string", kind);
      if (!Lsn::tryParse(text, field_ == Field::Lsn ? out.lsn : out.nextLsn))
        return fail(std::string(name) + " is not an LSN: \"" + std::string(text.substr(0, 40)) +
                    "\"");
      return true;
    }
    case Field::Schema:
      if (kind != ValueKind::String) return wrongType("\"schema\"", "a string", kind);
      out.setSchema(out.sliceOf(text.data(), text.size()));
      hasSchema_ = true;
      return true;
    case Field::Table:
      if (kind != ValueKind::String) return wrongType("\"table\"", "a string", kind);
      out.setTable(out.sliceOf(text.data(), text.size()));
      hasTable_ = true;
      return true;
    case Field::Prefix:
      if (kind != ValueKind::String) return wrongType("\"prefix\"", "a string", kind);
      out.setPrefix(out.sliceOf(text.data(), text.size()));
      return true;
    case Field::Content:
      if (kind != ValueKind::String) return wrongType("\"content\"", "a string", kind);
      out.setContent(out.sliceOf(text.data(), text.size()));
      return true;
    case Field::Transactional:
      if (kind != ValueKind::Bool) return wrongType("\"transactional\"", "a boolean", kind);
      out.transactional = text == "true";
      return true;
    case Field::Columns:
    case Field::Identity:
      return wrongType(field_ == Field::Columns ? "\"columns\"" : "\"identity\"", "an array", kind);
  }
  return true;
}

const char* Wal2JsonHandler::fieldName() const {
  switch (field_) {
    case Field::Unknown:
      return "?";
    case Field::Action:
      return "action";
    case Field::Xid:
      return "xid";
    case Field::Timestamp:
      return "timestamp";
    case Field::Lsn:
      return "lsn";
    case Field::NextLsn:
      return "nextlsn";
    case Field::Schema:
      return "schema";
    case Field::Table:
      return "table";
    case Field::Columns:
      return "columns";
    case Field::Identity:
      return "identity";
    case Field::Transactional:
      return "transactional";
    case Field::Prefix:
      return "prefix";
    case Field::Content:
      return "content";
  }
  return "?";
}

bool Wal2JsonHandler::wrongType(std::string_view field, std::string_view expected, ValueKind got) {
  return fail(std::string(field) + " must be " + std::string(expected) + ", not " + kindName(got));
}

bool Wal2JsonHandler::numberNotAsText() {
  return fail("internal error: the JSON reader converted a number instead of keeping its text");
}

bool Wal2JsonHandler::finish() {
  if (!hasAction_) return fail("the message has no \"action\"");
  switch (out_->kind) {
    case ChangeKind::Insert:
    case ChangeKind::Update:
    case ChangeKind::Delete:
    case ChangeKind::Truncate:
      if (!hasSchema_ || !hasTable_)
        return fail("a " + std::string(toString(out_->kind)) +
                    " message must name its \"schema\" and \"table\"");
      return true;
    default:
      return true;
  }
}

}  // namespace pgmorph
