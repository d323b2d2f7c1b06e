// CopyWriter: the snapshot's bulk path into one target table. It streams the writes of
// one WritePlan into `COPY <table> (<columns>) FROM STDIN`, in chunks of about 64 KiB: no
// statement, no round trip per row.
//
// Format, decided once per table: binary (CopyBinaryEncoder) when every column it writes has a
// type the encoder converts exactly, which saves the server most of its parsing; otherwise
// text (CopyTextEncoder). Staging tables are always text. The mode is logged once per table.
//
// Two kinds of destination:
//  - the plan's own table, for Upsert writes (an upsert target's rows);
//  - a staging table (forStaging), for the SetColumns writes of a partial target: the
//    row id, the plan's columns and the source row's legacy key (for messages), which
//    CopyUpdateWriter then applies with one UPDATE ... FROM.
//
// Contract:
//  - The columns are the plan's columns minus the target's generated columns (they are
//    never written; TargetCatalog says which they are). The id column comes from
//    TargetWrite::row, the others from the write's values in plan order.
//  - Only writes of this plan and of the destination's op (Upsert / SetColumns) with
//    every value Present or Null are accepted (a snapshot row is a whole row): anything
//    else is a caller bug (std::invalid_argument).
//  - begin() starts the COPY on the caller's connection (inside the caller's transaction,
//    if one is open); finish() ends it and returns the rows the server stored.
//  - Rows the target refuses (constraint, bad value, missing parent) end the copy with a
//    CopyRefusedError (a PgmorphError, Operator, with the server's SQLSTATE) naming the source
//    table, the target table, the database's message and its COPY context line ("COPY t, line N:
//    ..."), which says which row. Other failures are PgError, classified by SQLSTATE. After any
//    error the COPY is over and the caller's transaction has failed: roll it back.
//  - In binary mode, a value the encoder cannot convert (text the target type's input might
//    still take, or refuse) is never guessed at: write() throws a CopyRefusedError (22P02)
//    naming the table, column, legacy key and value, before anything of that row is sent; the
//    COPY is still running (copying()), so the caller may park the row and go on, or abort.
//  - One COPY at a time per connection; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"
#include "sink/CopyBinaryEncoder.h"
#include "sink/TargetCatalog.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

// The target refused a row of a COPY. The SQLSTATE is kept apart from the sentence so that
// a parked row records the database's code, as rows parked while streaming do.
class CopyRefusedError : public PgmorphError {
 public:
  CopyRefusedError(const std::string& message, std::string sqlstate)
      : PgmorphError(ErrorClass::Operator, message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// How a CopyWriter may encode its rows.
struct CopyFormat {
  bool binary = true;  // when every column's type allows it
  // source.timezone is UTC: the transform's timestamp texts ("<naive> <zone>") then convert
  // without a time zone database, so timestamp columns may be binary.
  bool utcTimestamps = false;
};

class CopyWriter {
 public:
  // `table` is the target table as TargetCatalog read it (for its generated columns and its
  // column types).
  CopyWriter(PgConnection& target, const WritePlan& plan, const TargetTable& table,
             CopyFormat format = {});
  // The `op` writes of `plan` (SetColumns of a partial plan, by default; Upsert for pgmorph
  // verify's expected rows) into `stagingTable`: an unqualified temporary table with the
  // columns columns() names, in that order.
  static CopyWriter forStaging(PgConnection& target, const WritePlan& plan,
                               const TargetTable& table, const std::string& stagingTable,
                               WriteOp op = WriteOp::SetColumns);
  CopyWriter(CopyWriter&&) = default;
  CopyWriter(const CopyWriter&) = delete;
  CopyWriter& operator=(const CopyWriter&) = delete;

  // COPY <table> (<columns>) FROM STDIN.
  void begin();
  // Encodes one row; sends the buffer when it is full.
  void write(const TargetWrite& w);
  // Sends what is buffered, ends the COPY and returns the number of rows stored.
  std::uint64_t finish();
  // Ends a running COPY with a failure (the server discards it); never throws.
  void abort() noexcept;

  bool copying() const { return copying_; }
  bool binary() const { return !binaryTypes_.empty(); }
  std::uint64_t rowsSent() const { return rows_; }
  std::uint64_t bytesSent() const { return bytes_; }
  // The target columns written, in COPY order (id first; for staging, the legacy key
  // column kLegacyKeyColumn last).
  const std::vector<std::string>& columns() const { return columnNames_; }

  static constexpr const char* kLegacyKeyColumn = "pgmorph_legacy_key";

  static constexpr std::size_t kChunkBytes = 64 * 1024;

 private:
  CopyWriter(PgConnection& target, const WritePlan& plan, const TargetTable& table, WriteOp op,
             const std::string* stagingTable, CopyFormat format);
  void chooseFormat(const TargetTable& table, CopyFormat format);
  void writeBinary(const TargetWrite& w);
  void flush();
  [[noreturn]] void failFromServer(std::string_view what, PgResult res = PgResult());

  PgConnection& conn_;
  const WritePlan* plan_;
  WriteOp op_;
  bool staging_ = false;                   // a staging table: the legacy key follows the values
  std::vector<std::size_t> valueIndexes_;  // plan column positions written after the id
  std::vector<std::string> columnNames_;
  std::vector<BinaryType> binaryTypes_;  // per value column, when binary; empty for text
  std::string copySql_;
  std::string buffer_;
  bool copying_ = false;
  std::uint64_t rows_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace pgmorph
