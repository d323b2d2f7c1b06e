// CheckpointStore owns the checkpoint row of one pipeline in the target's state schema:
// the end LSN of the last source transaction whose writes the target has committed.
//
// Exactly-once rests on this row: save() is called inside the target transaction that
// carries the writes, so the writes and the position commit (or vanish) together. On
// start, load() says where to resume and which source transactions to skip.
//
// The row also says when it last moved (updated_at, the target's clock) and the source
// commit time of the last source transaction it carries (source_commit_time, NULL when no
// streamed transaction carried one yet: a snapshot's consistent point, an idle advance, or
// a row written before the column existed), and when a save last carried source
// transactions (last_applied_at, NULL likewise); `pgmorph status` reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct Checkpoint {
  Lsn lsn;                               // end of the last applied source commit
  std::string slot;                      // slot the position belongs to
  std::int64_t appliedTransactions = 0;  // source transactions applied so far (monotonic)
  std::int64_t updatedAtMicros = 0;      // when the row last moved (target clock, Unix µs)
  // Source commit time of the last applied source transaction (Unix µs); 0 when unknown.
  std::int64_t sourceCommitMicros = 0;
  // When a save last carried source transactions (target clock, Unix µs); 0 when never.
  std::int64_t lastAppliedMicros = 0;
};

class CheckpointStore {
 public:
  CheckpointStore(std::string stateSchema, std::string pipeline);

  // Creates the state schema and its tables if missing (idempotent, safe concurrently), and
  // adds the columns of later versions to a table an older pgmorph created (old rows NULL).
  void ensureSchema(PgConnection& target) const;
  // Reads the row; works on a table of an older version too (no source_commit_time column),
  // so that read-only commands (check, status) never need to alter the schema.
  std::optional<Checkpoint> load(PgConnection& target) const;
  // Moves the checkpoint to `lsn`, never backwards, and adds `transactions` to the applied
  // count. `sourceCommitMicros` (Unix µs, 0 = none carried) becomes the row's source commit
  // time when the row moves to `lsn`; 0 keeps the one stored. Must run inside the caller's
  // open target transaction.
  void save(PgConnection& target, Lsn lsn, const std::string& slot, std::int64_t transactions,
            std::int64_t sourceCommitMicros = 0) const;
  // Moves the checkpoint to `lsn` even backwards (`pgmorph replay --force`: re-apply what
  // follows `lsn`), or creates the row there. Inside the caller's open target transaction.
  void rewind(PgConnection& target, Lsn lsn, const std::string& slot) const;
  // Removes the row (a fresh start, e.g. after re-creating the slot for a new snapshot).
  void reset(PgConnection& target) const;

  const std::string& stateSchema() const { return schema_; }
  const std::string& pipeline() const { return pipeline_; }

 private:
  std::string table(PgConnection& target) const;
  std::string schema_;
  std::string pipeline_;
};

}  // namespace pgmorph
