// Change: one decoded wal2json v2 message — the single contract between cdc and every
// stage after it (transform, sink, and later the durable journal).
//
// A Change owns all of its text in one arena string; names, types and values are
// (offset, length) slices into it. That makes a Change cheap to move, safe to keep after
// the decoder's input buffer is reused, and reusable without heap churn: clear() keeps
// the capacity of the arena and of the column vectors, so a decoder that recycles Change
// objects does no allocation per row once warmed up.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Lsn.h"

namespace pgmorph {

enum class ChangeKind : std::uint8_t {
  Begin,     // "B": start of a source transaction
  Commit,    // "C": end of a source transaction
  Insert,    // "I"
  Update,    // "U"
  Delete,    // "D"
  Truncate,  // "T"
  Message,   // "M": pg_logical_emit_message
};

std::string_view toString(ChangeKind kind);

// How wal2json rendered a value. Numbers are kept as their exact JSON text (never a
// double): bigint ids and numeric(12,2) prices must survive digit for digit.
enum class ValueKind : std::uint8_t { Null, Bool, Number, String };

struct Slice {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

struct ColumnSlices {
  Slice name;
  Slice type;
  Slice value;  // Bool: "true"/"false"; Number: JSON number text; String: unescaped text
  ValueKind kind = ValueKind::Null;
};

// A read-only view of one column of a Change; valid while the Change is alive and unchanged.
struct ColumnView {
  std::string_view name;
  std::string_view type;
  std::string_view value;  // empty for Null
  ValueKind kind = ValueKind::Null;
  bool isNull() const { return kind == ValueKind::Null; }
};

class Change {
 public:
  ChangeKind kind = ChangeKind::Begin;
  std::uint32_t xid = 0;
  // I/U/D/T: the change record's LSN (0 when the server does not send one).
  // B/C: the commit record's LSN.
  Lsn lsn;
  // B/C: the end of the commit record ("nextlsn"): the position to checkpoint and confirm.
  Lsn nextLsn;
  // B/C: commit time in microseconds since the Unix epoch (0 when unknown).
  std::int64_t commitTimeMicros = 0;
  // M only.
  bool transactional = false;

  void clear();

  std::string_view schema() const { return text(schema_); }
  std::string_view table() const { return text(table_); }
  std::string_view prefix() const { return text(prefix_); }    // M
  std::string_view content() const { return text(content_); }  // M

  std::size_t columnCount() const { return columns_.size(); }
  std::size_t identityCount() const { return identity_.size(); }
  // New tuple (I, U). An U may omit columns whose value is an unchanged TOAST pointer.
  ColumnView column(std::size_t i) const { return view(columns_[i]); }
  // Old key (U, D): replica identity columns. For a U with unchanged key, wal2json copies it
  // from the new tuple.
  ColumnView identity(std::size_t i) const { return view(identity_[i]); }
  // Linear search by name (tables are narrow; this beats a map at these sizes).
  const ColumnSlices* findColumn(std::string_view name) const;
  const ColumnSlices* findIdentity(std::string_view name) const;
  ColumnView view(const ColumnSlices& c) const {
    return ColumnView{text(c.name), text(c.type), text(c.value), c.kind};
  }

  // Builders (used by tests, the snapshot reader and parking).
  Slice store(std::string_view s);
  void setSchema(std::string_view s) { schema_ = store(s); }
  void setTable(std::string_view s) { table_ = store(s); }
  void setPrefix(std::string_view s) { prefix_ = store(s); }
  void setContent(std::string_view s) { content_ = store(s); }

  // For the decoder, which parses in situ: the message itself becomes the arena, so names
  // and values are sliced where the parser leaves them instead of being copied again.
  // adoptMessage() clears the change and copies `message` into the arena, NUL-terminated
  // and behind the literals "falsetrue" (trueSlice()/falseSlice()); it returns the writable
  // copy. Until the decoder is done, nothing may be stored (the arena must not move);
  // sliceOf() takes a pointer into that copy. kMessagePadding bytes after the NUL stay
  // readable, so the parser may load 16 bytes at a time from anywhere in the message.
  static constexpr std::size_t kMessagePadding = 16;
  char* adoptMessage(std::string_view message);
  Slice sliceOf(const char* p, std::size_t n) const {
    return Slice{static_cast<std::uint32_t>(p - arena_.data()), static_cast<std::uint32_t>(n)};
  }
  static constexpr Slice falseSlice() { return Slice{0, 5}; }
  static constexpr Slice trueSlice() { return Slice{5, 4}; }
  void setSchema(Slice s) { schema_ = s; }
  void setTable(Slice s) { table_ = s; }
  void setPrefix(Slice s) { prefix_ = s; }
  void setContent(Slice s) { content_ = s; }
  void addColumn(std::string_view name, std::string_view type, std::string_view value,
                 ValueKind kind);
  void addIdentity(std::string_view name, std::string_view type, std::string_view value,
                   ValueKind kind);
  void addColumn(const ColumnSlices& c) { columns_.push_back(c); }
  void addIdentity(const ColumnSlices& c) { identity_.push_back(c); }

  // Slices are only ever made by this class, so they are in range: no checked substr here
  // (this runs several times per column on the hot path).
  std::string_view text(Slice s) const {
    return std::string_view(arena_.data() + s.offset, s.length);
  }
  std::size_t arenaBytes() const { return arena_.capacity(); }

 private:
  std::string arena_;
  Slice schema_, table_, prefix_, content_;
  std::vector<ColumnSlices> columns_;
  std::vector<ColumnSlices> identity_;
};

// The pipeline's view of one source transaction's boundaries. Its changes are not held
// here: they stream through the pipeline in bounded chunks (invariant 8), so a transaction
// of millions of rows never sits in memory at once.
struct TransactionInfo {
  std::uint32_t xid = 0;
  Lsn commitLsn;  // commit record
  Lsn endLsn;     // end of commit record: the checkpoint position
  std::int64_t commitTimeMicros = 0;
};

}  // namespace pgmorph
