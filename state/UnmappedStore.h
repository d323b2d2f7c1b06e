// UnmappedStore owns the table `unmapped_changes` of the target's state schema: per pipeline
// and source table, how many row changes follow has skipped because the table is neither
// mapped nor listed in `ignore:` — a misspelled or forgotten mapping, whose changes are gone
// once the checkpoint passes them. `pgmorph status` shows it, whether or not follow runs.
//
// Contract: add() runs inside the target transaction that moves the checkpoint past those
// changes (TransactionApplier), so the counts and the position commit together: a change
// replayed after a crash is counted once. It is only called when a transaction skipped some,
// so a pipeline without unmapped changes pays nothing. The table is created on first use.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct UnmappedCount {
  std::string table;                // "schema.table" of the source
  std::uint64_t changes = 0;        // skipped so far (all runs)
  std::int64_t lastSeenMicros = 0;  // when a commit last added to it (target clock, Unix µs)
};

class UnmappedStore {
 public:
  UnmappedStore(std::string stateSchema, std::string pipeline);

  // Adds `counts` (source table "schema.table" -> changes) in the caller's open transaction.
  void add(PgConnection& target, const std::map<std::string, std::uint64_t>& counts);
  // The counts, most changes first; empty when the table does not exist (read-only: never
  // creates it).
  std::vector<UnmappedCount> load(PgConnection& target) const;

 private:
  std::string table(PgConnection& target) const;
  std::string schema_;
  std::string pipeline_;
  bool ensured_ = false;  // seen committed by this process
};

}  // namespace pgmorph
