// ParkingCopy: the snapshot's COPY of one upsert target with the parking rules of the stream,
// so that the snapshot too never stops for one row. Same shape as CopyWriter (begin, write,
// finish, abort), which it drives; on the caller's connection and inside the caller's
// transaction (the unit's), like CopyWriter.
//
// Rows are sent in chunks of `chunkRows`. Before a chunk is sent:
//  - missing parents are found in one statement per parent table (ParentChecker; parents that
//    rows of earlier chunks or lookups showed present are not asked again), and each row whose
//    reference names a missing parent is, per the column's on_missing: parked (MissingParent,
//    retried when the parent arrives — by the stream that follows the snapshot), written with
//    NULL and the reference kept to fill in (NullReference), or the copy stops (PgmorphError).
// Each chunk is one COPY behind a savepoint. When the target refuses a row (CHECK, NOT NULL,
// unique, a foreign key nobody foresaw), the chunk is rolled back to the savepoint and split in
// halves until the refused rows are alone: they are parked (Refused) with the database's
// message, the rest lands. Rows the transformer could not convert are handed over with park()
// and parked with the chunk. Everything parked commits with the unit, or vanishes with it.
//
// Memory: one chunk of writes (copies) plus the entries waiting to be parked with it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "sink/ParentChecker.h"
#include "sink/TargetCatalog.h"
#include "state/ParkedStore.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

class ParkingCopy {
 public:
  // `checker` may be shared by the copies of one worker (it caches parents known present).
  ParkingCopy(PgConnection& target, const WritePlan& plan, const TargetTable& table,
              ParentChecker& checker, const ParkedStore& store, std::size_t chunkRows = 10000);

  void begin();
  // Upsert writes of the plan, whole rows (as CopyWriter).
  void write(const TargetWrite& w);
  // An entry to park with the current chunk (a row that could not be transformed).
  void park(ParkedRow row);
  // Sends the last chunk and parks what is left; returns the rows stored.
  std::uint64_t finish();
  void abort() noexcept;

  std::size_t parked() const { return parked_; }  // entries parked (fills included)
  std::size_t nulled() const { return nulled_; }  // references written as NULL

 private:
  void sendChunk();
  void checkParents();
  // COPYs chunk_[idx...] behind a savepoint, splitting on refusal.
  void copyRows(const std::vector<std::size_t>& rows);
  void parkPending();
  std::string describe(const TargetWrite& w, const ParentRef& ref, const Uuid& id,
                       RowPolicy policy) const;

  PgConnection& conn_;
  const WritePlan& plan_;
  const TargetTable& table_;
  ParentChecker& checker_;
  const ParkedStore& store_;
  std::size_t chunkRows_;
  int ownTable_ = -1;

  WriteBatch chunk_;
  std::vector<TargetWrite> originals_;  // per chunk row: as given, when a reference was NULLed
  std::vector<char> skip_;              // per chunk row: parked before sending
  std::vector<char> stored_;            // per chunk row: landed
  struct Fill {
    std::size_t row;
    const ParentRef* ref;
    Uuid id;
    std::string text;
  };
  std::vector<Fill> fills_;
  std::vector<ParkedRow> pending_;
  std::uint64_t rows_ = 0;
  std::size_t parked_ = 0, nulled_ = 0;
  bool open_ = false;
};

}  // namespace pgmorph
