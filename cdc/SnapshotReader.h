// SnapshotReader: one source session that has imported the slot's exported snapshot, and
// the COPY that streams a mapped table (or one key range of it) out of it as Changes.
//
// Why Changes: each row becomes a pgmorph::Change of kind Insert, with the same column
// names, value kinds and value texts that wal2json would send for that row (no type names:
// pgmorph's stream turns include-types off, see Wal2JsonDecoder::pluginOptions),
// so the snapshot goes through the very same Transformer as streaming (one mapping
// implementation, not two). The rules mirrored from wal2json 2.5 (pg_decode_write_value):
//   * int2/int4/int8/oid/float4/float8/numeric -> Number (text as is); NaN and ±Infinity
//     -> Null, as wal2json sends them;
//   * boolean -> Bool "true"/"false" (COPY says t/f);
//   * bytea -> String of hex digits without the leading \x;
//   * anything else -> String, the type's text output (the session pins TimeZone=UTC,
//     DateStyle=ISO, extra_float_digits=3 exactly as the replication session does).
//
// Contract:
//  - The constructor connects, opens BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY and
//    imports the snapshot. Every read of this object sees the database as of the slot's
//    consistent point. A snapshot that can no longer be imported (its exporting
//    connection has ended) throws SnapshotGoneError.
//  - start() begins one COPY (SELECT <columns> FROM <table> [WHERE <key> range]) TO STDOUT;
//    next() returns its rows one by one and false at the end, after checking that the
//    COPY ended well. One COPY at a time; start() again for the next table.
//  - An error thrown from start() or next() leaves the session's transaction unusable:
//    discard the reader and make a new one (which imports the snapshot again).
//  - Not thread-safe: one reader per worker thread (each imports the same snapshot).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cdc/CopyTextParser.h"
#include "cdc/model/Change.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

// The exported snapshot no longer exists (its exporting connection ended, e.g. the
// process that created the slot was killed, or the source restarted). Nothing read under
// it can be combined with reads under a new one: the snapshot has to be taken again from
// scratch — which the next attempt does by itself, hence Transient.
class SnapshotGoneError : public PgmorphError {
 public:
  explicit SnapshotGoneError(const std::string& message)
      : PgmorphError(ErrorClass::Transient, message) {}
};

struct SourceColumn {
  enum class Render : std::uint8_t { Number, Bool, Bytea, String };
  std::string name;
  std::string type;  // format_type(atttypid, atttypmod): tells which keys can split a table
  Render render = Render::String;
};

// What one COPY reads: a table's columns, optionally one half-open range [from, to) of an
// integer key column (either bound may be open).
struct SnapshotRead {
  std::string schema;
  std::string table;
  std::vector<SourceColumn> columns;
  std::string rangeColumn;  // empty: the whole table
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> to;
};

class SnapshotReader {
 public:
  SnapshotReader(const std::string& sourceConninfo, const std::string& snapshotName);
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  // The columns of schema.table in catalog order, limited to `wanted` when it is not empty.
  // Throws PgmorphError (Operator) naming the table or the first wanted column that does
  // not exist.
  static std::vector<SourceColumn> describe(PgConnection& source, const std::string& schema,
                                            const std::string& table,
                                            const std::vector<std::string>& wanted = {});

  void start(const SnapshotRead& read);
  // Fills `out` (cleared first) with the next row as an Insert; false when the COPY ended.
  bool next(Change& out);
  // The session, inside the imported snapshot: queries run here see the same state
  // (e.g. min/max of a key to split a table into ranges).
  PgConnection& connection() { return conn_; }
  std::uint64_t bytesRead() const { return bytesRead_; }

 private:
  void finishCopy();

  PgConnection conn_;
  CopyTextParser parser_;
  SnapshotRead read_;
  bool copying_ = false;
  char* row_ = nullptr;  // the last row from PQgetCopyData (freed on the next call)
  std::uint64_t bytesRead_ = 0;
};

}  // namespace pgmorph
