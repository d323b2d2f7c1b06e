// BinaryArray: one column of a multi-row statement (BulkStatements) as a one-dimensional
// array in PostgreSQL's binary wire format, sent as a binary parameter. The server then
// receives each element (uuid_recv copies 16 bytes) instead of parsing the array literal and
// then each element's text (array_in, uuid_in, numeric_in, timestamptz_in...).
//
// Why, measured on the dispatch target (PostgreSQL 15, 10,000 rows of `orders`, nine
// columns): parsing the text array literals took 36 ms and casting the text elements 25 ms,
// against 27 ms for the whole statement over typed arrays — about 6 µs of the ~40 µs each
// upserted row costs the target. See tests/bench/README.md for the end-to-end figures.
//
// Format (array_recv): int32 dimensions (1, or 0 when empty), int32 has-nulls flag, uint32
// element type OID, then per dimension int32 length and int32 lower bound (1), then each
// element as int32 length (-1 for NULL) and its bytes — the framing of a binary COPY field,
// so CopyBinaryEncoder writes the elements, with its rule: a value is converted exactly or
// not at all. add() returns false for a value it cannot convert exactly (or a text holding a
// NUL byte); the caller then sends the column as a text array, and the server judges the
// value as it always did.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cdc/model/Uuid.h"
#include "sink/CopyBinaryEncoder.h"

namespace pgmorph {

class BinaryArray {
 public:
  // Built-in type OIDs (pg_type.dat; fixed since they were assigned). Text covers every text
  // type CopyBinaryEncoder sends as bytes (varchar, bpchar, json): the parameter is text[]
  // and the statement casts it to the column's type, as it does a text array.
  static std::uint32_t elementOid(BinaryType type);
  static std::uint32_t arrayOid(BinaryType type);
  // The element type as the statement spells the parameter's cast (`$1::uuid[]`): "text" for
  // Text, else the column's own type name as format_type(oid, -1) gives it.
  static std::string_view sqlElementType(BinaryType type, std::string_view columnType);

  // Empties the array and sets the type of the elements to come.
  void reset(BinaryType type);
  // False, with nothing added, when `text` is not a value of the type this encoder converts
  // exactly, or holds a NUL byte.
  bool add(std::string_view text);
  // Only for BinaryType::Uuid.
  void addUuid(const Uuid& id);
  void addNull();

  std::size_t size() const { return count_; }
  BinaryType type() const { return type_; }
  // The finished bytes; valid until the next change.
  std::string_view bytes();

 private:
  BinaryType type_ = BinaryType::Text;
  std::string buffer_;
  std::size_t count_ = 0;
  bool nulls_ = false;
};

}  // namespace pgmorph
