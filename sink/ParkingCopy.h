// ParkingCopy: the snapshot's COPY of one upsert target with the parking rules of the stream,
// so that the snapshot too never stops for one row. Same shape as CopyWriter (begin, write,
// finish, abort), which it drives; on the caller's connection and inside the caller's
// transaction (the unit's), like CopyWriter.
//
// Rows stream into a COPY as they come (the server works while the transformer does), in
// segments, each behind a savepoint:
//  - A row whose references all name parents known to be on the target (ParentChecker's
//    cache) is sent at once. A row with a parent not known yet is held; at the next segment
//    boundary the held rows' parents are asked in one statement per parent table (no
//    statement can run while a COPY does), and each row whose reference names a missing
//    parent is, per the column's on_missing: parked (MissingParent, applied by the stream that
//    follows when the parent arrives), written with NULL and the reference kept to fill in
//    (NullReference), or the copy stops (PgmorphError). Parents found missing are remembered
//    for the rest of the copy.
//  - When the target refuses a row (CHECK, NOT NULL, unique, a foreign key nobody foresaw),
//    the segment is rolled back to its savepoint and sent again in halves until the refused
//    rows are alone: they are parked (Refused) with the database's message; the rest lands.
//  - Rows the transformer could not convert are handed over with park(). A row with a value
//    the binary COPY cannot encode goes by text COPY at the segment's end, so the server judges
//    it as it judges the stream's writes (and a refusal is parked like any other).
// Everything parked commits with the unit, or vanishes with it. A segment ends after
// `segmentRows` rows or `heldRows` held rows (memory: one segment's rows, kept to send them
// again if the target refuses one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "sink/CopyWriter.h"
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
              ParentChecker& checker, const ParkedStore& store,
              std::size_t segmentRows = kSegmentRows, std::size_t heldRows = kHeldRows,
              CopyFormat format = {});

  static constexpr std::size_t kSegmentRows = 20000;
  static constexpr std::size_t kHeldRows = 2000;

  void begin();
  // Upsert writes of the plan, whole rows (as CopyWriter).
  void write(const TargetWrite& w);
  // An entry to park with the current segment (a row that could not be transformed).
  void park(ParkedRow row);
  // References (plan column indexes) not to check during this copy: their parent table is
  // loaded later (references without keys that point at each other); the caller sweeps them
  // once it is (OrphanSweeper). Call before begin().
  void leaveUnchecked(std::vector<std::size_t> columns) { unchecked_ = std::move(columns); }
  // Ends the copy, parks what is left; returns the rows stored.
  std::uint64_t finish();
  void abort() noexcept;

  std::size_t parked() const { return parked_; }  // entries parked (NULL references not counted)
  std::size_t nulled() const { return nulled_; }  // references written as NULL (and kept)

 private:
  enum class Known { Present, Missing, Unknown };
  struct Fill {
    std::size_t row;  // index in sent_
    const ParentRef* ref;
    Uuid id;
    std::string text;
  };

  Known known(int table, const Uuid& id) const;
  // Sends `w` now, or holds it (a parent not known yet), or parks/NULLs it (a parent known
  // missing).
  void admit(const TargetWrite& w);
  void send(const TargetWrite& w, const TargetWrite* original);
  // Ends the running COPY (redoing it in halves when refused), parks what waits, resolves the
  // held rows' parents and admits them again.
  void boundary();
  void endSegment();
  void copyRows(const std::vector<std::size_t>& rows, CopyFormat format);
  void resolveHeld();
  void parkPending();
  std::string describe(const TargetWrite& w, const ParentRef& ref, const Uuid& id,
                       RowPolicy policy) const;

  PgConnection& conn_;
  const WritePlan& plan_;
  const TargetTable& table_;
  ParentChecker& checker_;
  std::vector<std::size_t> unchecked_;
  bool checked(const ParentRef& ref) const;
  const ParkedStore& store_;
  std::size_t segmentRows_, heldRows_;
  CopyFormat format_;

  std::optional<CopyWriter> copy_;  // the running COPY of the current segment
  WriteBatch sent_;                 // the segment's rows, as sent
  std::unordered_map<std::size_t, TargetWrite> originals_;  // sent_ index -> before NULLing
  std::vector<Fill> fills_;                                 // of the segment's rows
  // Rows of the segment the binary encoder could not convert: sent by text COPY at its end.
  std::vector<std::size_t> textRows_;
  std::vector<char> stored_;  // per sent_ row, after a redo
  WriteBatch held_;
  std::unordered_map<int, std::unordered_set<Uuid, UuidHash>> missing_;
  std::vector<ParkedRow> pending_;
  std::uint64_t rows_ = 0;
  std::size_t parked_ = 0, nulled_ = 0;
  bool open_ = false;
  int own_;  // ParentChecker table of plan_'s target (-1: the checker does not know it)
};

}  // namespace pgmorph
