// CheckpointStore owns the checkpoint row of one pipeline in the target's state schema:
// the end LSN of the last source transaction whose writes the target has committed.
//
// Exactly-once rests on this row: save() is called inside the target transaction that
// carries the writes, so the writes and the position commit (or vanish) together. On
// start, load() says where to resume and which source transactions to skip.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct Checkpoint {
  Lsn lsn;                             // end of the last applied source commit
  std::string slot;                    // slot the position belongs to
  std::int64_t appliedTransactions = 0;  // source transactions applied so far (monotonic)
};

class CheckpointStore {
 public:
  CheckpointStore(std::string stateSchema, std::string pipeline);

  // Creates the state schema and its tables if missing (idempotent, safe concurrently).
  void ensureSchema(PgConnection& target) const;
  std::optional<Checkpoint> load(PgConnection& target) const;
  // Moves the checkpoint to `lsn`, never backwards, and adds `transactions` to the applied
  // count. Must run inside the caller's open target transaction.
  void save(PgConnection& target, Lsn lsn, const std::string& slot,
            std::int64_t transactions) const;
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
