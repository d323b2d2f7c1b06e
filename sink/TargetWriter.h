// TargetWriter: applies TargetWrites to the target database inside one transaction and
// commits them together with the checkpoint. It owns nothing but references to the target
// connection and the checkpoint store, its prepared-statement cache and its counters.
//
// Contract:
//  - begin() opens a READ COMMITTED transaction; apply() may be called any number of times
//    inside it (chunks of one large source transaction); commit() moves the checkpoint in
//    that same transaction and commits: writes and position are durable together, or
//    neither is (exactly-once rests on this).
//  - apply() sends a whole batch in libpq pipeline mode (one sync, no round trip per row),
//    each write through a statement prepared once per shape for the connection's life.
//  - Any error from apply() or commit() rolls the transaction back before it is thrown:
//    the writes of every apply() since begin() are gone and the checkpoint is unchanged.
//    Call begin() again to go on. A refused write is a RefusedRowError (Operator) naming
//    the source row; anything else is a PgError classified by its SQLSTATE (a lost
//    connection is Transient).
//  - One TargetWriter per connection session; the WritePlans of the writes must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "sink/ParamBuffer.h"
#include "sink/RefusedRowError.h"
#include "sink/StatementCache.h"
#include "state/CheckpointStore.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

class TargetWriter {
 public:
  TargetWriter(PgConnection& target, const CheckpointStore& checkpoints, std::string slot);
  TargetWriter(const TargetWriter&) = delete;
  TargetWriter& operator=(const TargetWriter&) = delete;

  // BEGIN ISOLATION LEVEL READ COMMITTED. Throws std::logic_error if a transaction is
  // already open on the connection, PgError if the server refuses.
  void begin();
  // Applies `writes` in order inside the open transaction (see the contract above).
  // Throws std::logic_error without an open transaction, std::invalid_argument for a write
  // that does not fit its plan (a transform bug; the transaction is rolled back too).
  void apply(std::span<const TargetWrite> writes);
  // Moves the checkpoint to `endLsn` (adding `transactions` to the applied count) in the
  // open transaction, then COMMIT. When it returns, writes and checkpoint are committed.
  void commit(Lsn endLsn, std::int64_t transactions);
  // ROLLBACK if a transaction is open; never throws.
  void rollback() noexcept;

  bool inTransaction() const { return open_; }
  // Target rows touched by committed writes (INSERT/UPDATE/DELETE row counts), for progress.
  std::uint64_t rowsWritten() const { return rowsWritten_; }
  // Statements prepared so far (one per write shape); for tests and diagnostics.
  std::size_t preparedStatements() const { return cache_.size(); }

 private:
  // What one queued pipeline command was, so its result can be matched to its write.
  struct Sent {
    bool prepare = false;
    std::size_t index = 0;
    PreparedStatement* statement = nullptr;
  };
  // The first failure of a batch, in write order.
  struct Failure {
    std::size_t index = 0;
    std::optional<RefusedRow> refused;  // set: the row was refused
    std::string message;                // otherwise: a PgError with this message...
    std::string sqlstate;               // ...and code
    std::string schema, table;          // table the server named in the error
  };

  void requireOpen(const char* what) const;
  // Fills params_ for `w` in the order SqlBuilder documents. Returns the name of a column
  // whose value holds a NUL byte, or nullopt when every value was bound.
  std::optional<std::string> bindParams(const TargetWrite& w);
  void sendBatch(std::span<const TargetWrite> writes, std::optional<Failure>& local);
  void readResults(std::span<const TargetWrite> writes, std::optional<Failure>& failure);
  Failure failureFrom(const TargetWrite& w, std::size_t index, const PgResult& res) const;
  RefusedRow refusal(const TargetWrite& w, std::size_t index) const;
  void explainForeignKey(const TargetWrite& w, Failure& failure);
  void rollbackQuietly() noexcept;

  PgConnection& conn_;
  const CheckpointStore& checkpoints_;
  std::string slot_;
  PGconn* session_;  // the session the cached statements were prepared in
  StatementCache cache_;
  ParamBuffer params_;
  std::vector<Sent> sent_;
  bool open_ = false;
  std::uint64_t pendingRows_ = 0;
  std::uint64_t rowsWritten_ = 0;
};

}  // namespace pgmorph
