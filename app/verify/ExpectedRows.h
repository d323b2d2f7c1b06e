// ExpectedRows: builds, inside verify's target session, a temporary table holding the rows one
// target table should have: the source rows as of the pinned snapshot, read with
// SnapshotReader and mapped by the same Transformer that follow and snapshot use (keys to
// UUIDs, renames, conversions, fan-out, `where`, partial targets). Comparing on the target
// server then uses the target's own types for both sides: a jsonb, numeric or timestamptz
// value is equal when the database says so, never because two client-side texts happen to
// match.
//
// The table: the compared target columns (types copied with CREATE TABLE AS ... WITH NO DATA,
// no constraints, so a row the target would refuse is still expected), then
// pgmorph_legacy_key (text) and pgmorph_plan (which upsert plan wrote the row: an index into
// plans()). Upsert plans are COPYed straight in; partial (mode: update) plans are COPYed
// into a staging table and applied with one UPDATE ... FROM, as the snapshot does. A target
// table that only partial plans write starts from the target's own rows with those columns
// emptied.
//
// Contract:
//  - Runs in the caller's open transaction on `target` (the one holding the pinned target
//    snapshot); the table is temporary and dropped by drop() or at the transaction's end.
//  - Source rows the mapping cannot convert are not expected; they are counted (with a few
//    samples) and their target ids are added to `unconvertibleIds` (a temporary table of
//    uuids) so that the comparison reports them as parked rather than missing.
//  - Not thread-safe; one builder per (source session, target session).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <functional>

#include "cdc/SnapshotReader.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TargetCatalog.h"
#include "transform/Transformer.h"

namespace pgmorph {

// One plan's part of a target table: the plan and the source read that feeds it.
struct ExpectedSource {
  const WritePlan* plan = nullptr;
  SnapshotRead read;
};

struct ExpectedTable {
  std::string name;                       // the temporary table (unqualified)
  std::vector<std::string> columns;       // compared target columns, id first
  std::vector<const WritePlan*> upserts;  // pgmorph_plan indexes into this
  std::uint64_t unconvertible = 0;
  std::vector<std::string> unconvertibleSamples;
  std::uint64_t setWithoutRow = 0;
};

class ExpectedRows {
 public:
  static constexpr const char* kLegacyKeyColumn = "pgmorph_legacy_key";
  static constexpr const char* kPlanColumn = "pgmorph_plan";
  static constexpr const char* kUnconvertibleIds = "pgmorph_verify_unconvertible";

  // `stopped` is asked every thousand rows; true ends the build with an error.
  ExpectedRows(PgConnection& target, SnapshotReader& source, Transformer& transformer,
               std::function<bool()> stopped);

  // Fills a temporary table `name` with the expected rows of `table` (as TargetCatalog read
  // it) from `upserts` and `partials` (plans of that table, in file order).
  ExpectedTable build(const TargetTable& table, const std::string& name,
                      const std::vector<ExpectedSource>& upserts,
                      const std::vector<ExpectedSource>& partials);
  void drop(const ExpectedTable& expected);

 private:
  std::vector<std::string> comparedColumns(const TargetTable& table,
                                           const std::vector<ExpectedSource>& upserts,
                                           const std::vector<ExpectedSource>& partials) const;
  void copyUpserts(const TargetTable& table, const ExpectedSource& source, int planIndex,
                   ExpectedTable& out);
  void applyPartial(const TargetTable& table, const ExpectedSource& source, ExpectedTable& out);
  // Streams the source read through the transformer; calls `write` for each write of the
  // plan with `op`. Unconvertible rows are counted into `out`.
  template <class Write>
  void stream(const ExpectedSource& source, WriteOp op, ExpectedTable& out, Write&& write);
  void noteUnconvertible(const ExpectedSource& source, const Change& change,
                         const std::string& problem, ExpectedTable& out);
  void flushUnconvertible();

  PgConnection& target_;
  SnapshotReader& source_;
  Transformer& transformer_;
  std::function<bool()> stopped_;
  Change change_;
  WriteBatch batch_;
  std::vector<std::string> unconvertibleIds_;  // found during a COPY, stored after it
};

}  // namespace pgmorph
