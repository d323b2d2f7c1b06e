// CopyUpdateWriter: the snapshot's bulk path for a partial (mode: update) target. Instead of
// one UPDATE per source row, the SetColumns writes are COPYed into a temporary staging
// table (same column types as the target, made with CREATE TABLE AS ... WITH NO DATA, plus
// the legacy key for messages), then applied with ONE statement:
//   UPDATE t SET c = s.c, ... FROM staging s WHERE t.id = s.id
//
// Contract:
//  - Runs inside the caller's open target transaction; the staging table is dropped at its
//    end (ON COMMIT DROP), and nothing is visible to others before the caller commits. One
//    CopyUpdateWriter per transaction (the staging table has a fixed name).
//  - A staged row whose target row does not exist is refused like a SetColumns that touches
//    no row: finish() throws PgmorphError (Operator) naming the source table, the target
//    table and the first legacy keys concerned.
//  - Two source rows naming the same target row: the snapshot cannot know which one the
//    source wrote last; one of them wins and a warning names them.
//  - Generated target columns are never written (as CopyWriter).
#pragma once

#include <cstdint>
#include <string>

#include "cdc/pg/PgConnection.h"
#include "sink/CopyWriter.h"
#include "sink/TargetCatalog.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

class CopyUpdateWriter {
 public:
  CopyUpdateWriter(PgConnection& target, const WritePlan& plan, const TargetTable& table);

  // Creates the staging table and starts the COPY into it.
  void begin();
  // One SetColumns write of the plan.
  void write(const TargetWrite& w) { copy_.write(w); }
  // Ends the COPY, applies the staged rows, returns the number of target rows updated.
  std::uint64_t finish();
  void abort() noexcept { copy_.abort(); }

  std::uint64_t rowsSent() const { return copy_.rowsSent(); }

  static constexpr const char* kStagingTable = "pgmorph_snapshot_stage";

 private:
  PgConnection& conn_;
  const WritePlan& plan_;
  std::string staging_;
  CopyWriter copy_;
};

}  // namespace pgmorph
