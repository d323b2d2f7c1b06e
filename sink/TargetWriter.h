// TargetWriter: applies TargetWrites to the target database inside one transaction and
// commits them together with the checkpoint. The connection and the checkpoint store are the
// caller's; it owns what belongs to the session (prepared one-row statements, the multi-row
// statement builders, the session token that tells a new session), the scratch of
// applyOrdered()'s passes, and its counters.
//
// Contract:
//  - begin() opens a READ COMMITTED transaction; applyOrdered() may be called any number of
//    times inside it (chunks of one large source transaction); commit() moves the checkpoint
//    in that same transaction and commits: writes and position are durable together, or
//    neither is (exactly-once rests on this).
//  - applyOrdered() applies a batch ordered by BatchOrderer: runs of same-shaped writes go as
//    one multi-row statement each (BulkStatements), the rest one statement per write,
//    prepared once per shape for the connection's life; all in libpq pipeline mode (one
//    sync, one round trip) behind a savepoint.
//  - A multi-row statement cannot say which row the target refused: when one fails, the
//    batch is rolled back to the savepoint and sent again with that run row by row, which
//    names the refused write exactly; the RefusalHandler then decides (skip it and go on, or
//    stop). A refusal the handler does not skip, and any other error from applyOrdered() or
//    commit(), rolls the whole transaction back before it is thrown: the writes of every
//    applyOrdered() since begin() are gone and the checkpoint is unchanged. Call begin()
//    again to go on. A refused write is a RefusedRowError (Operator) naming the source row;
//    anything else is a PgError classified by its SQLSTATE (a lost connection is Transient).
//  - One TargetWriter per connection session; the WritePlans of the writes must outlive it.
//
// One class in three files: TargetWriter.cpp (the transaction and the checkpoint: begin,
// commit, commitKeepingCheckpoint, rollback), TargetWriterPipeline.cpp (the libpq pipeline:
// queueing writes, runs and utilities, reading their results, unqueue) and
// TargetWriterRefusals.cpp (applyOrdered's passes, which isolate a refused write, and what a
// refusal says); the wording they share is in TargetWriterMessages.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "sink/BulkStatements.h"
#include "sink/ParamBuffer.h"
#include "sink/PipelineScope.h"
#include "sink/RefusalHandler.h"
#include "sink/RefusedRowError.h"
#include "sink/StatementCache.h"
#include "state/CheckpointStore.h"
#include "transform/BatchOrderer.h"
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
  // Applies a batch in the order BatchOrderer gave it, inside the open transaction, with
  // multi-row statements where it can (see the contract above). Segments are applied one
  // after another; a segment's deferred constraints are deferred while it is written and
  // checked at its end (a failure there cannot be pinned on one write: it stops, as a
  // PgError naming the constraint). A refused write goes to `onRefused` with
  // RefusedRow::writeIndex = its OrderedWrite::source; Skip leaves it out and goes on.
  // Throws std::logic_error without an open transaction; otherwise after rolling the whole
  // transaction back: std::invalid_argument for a write without a plan or that does not fit
  // its plan (a transform bug), RefusedRowError for a refusal that stops, PgError for the rest.
  void applyOrdered(const OrderedBatch& batch, const RefusalHandler& onRefused = {});
  // applyOrdered() in two halves, so that the caller can work while the server runs the batch:
  // sendOrdered() sends its first pass (one pipeline, flushed) and returns without reading a
  // result; finishOrdered() reads them and does the rest (refused writes isolated, passes
  // resent), throwing what applyOrdered() throws. `batch` (and its writes) must stay alive and
  // unchanged until finishOrdered() returns or throws. Between the two, no other statement
  // may use the connection: commit() and sendOrdered() throw std::logic_error; rollback() is
  // allowed (it discards the results).
  // `tentative`: the batch was built on assumptions the target checks (ParentGate's assumed
  // parents). If the target refuses any of it (a row's refusal, a missing SetColumns row, a
  // refused multi-row statement), finishOrdered() rolls the batch back to its savepoint,
  // calls no handler, and returns false: the caller decides again and sends anew. Otherwise
  // it returns true (always, for a batch that is not tentative).
  void sendOrdered(const OrderedBatch& batch, bool tentative = false);
  bool finishOrdered(const RefusalHandler& onRefused = {});
  // A batch was sent and its results are not read yet.
  bool inFlight() const { return passBatch_ != nullptr; }
  // Moves the checkpoint to `endLsn` (adding `transactions` to the applied count, and
  // recording `sourceCommitMicros`, the last carried source commit's time, 0 = none) in the
  // open transaction, then COMMIT. When it returns, writes and checkpoint are committed.
  void commit(Lsn endLsn, std::int64_t transactions, std::int64_t sourceCommitMicros = 0);
  // COMMIT of work that is not a source transaction (`pgmorph parked retry`): the writes
  // commit, the checkpoint stays where it is. Fails like commit().
  void commitKeepingCheckpoint(std::string_view what);
  // ROLLBACK if a transaction is open; never throws.
  void rollback() noexcept;

  bool inTransaction() const { return open_; }
  // The checkpoint store commit() writes through (another session's writer shares it).
  const CheckpointStore& checkpoints() const { return checkpoints_; }
  // The target connection (to read its catalog; not for writes behind the writer's back).
  PgConnection& connection() const { return conn_; }
  // Target rows touched by committed writes (INSERT/UPDATE/DELETE row counts), for progress.
  std::uint64_t rowsWritten() const { return rowsWritten_; }
  // Statements prepared so far (one per write shape); for tests and diagnostics.
  std::size_t preparedStatements() const { return cache_.size(); }
  // How applyOrdered() sent what it applied (passes that were rolled back not counted).
  struct OrderedCounters {
    std::uint64_t multiRowStatements = 0;  // multi-row statements
    std::uint64_t multiRowWrites = 0;      // writes they carried
    std::uint64_t oneRowWrites = 0;        // writes sent one statement each
    std::uint64_t retriedPasses = 0;       // passes rolled back to isolate a refused write
    std::uint64_t withdrawnPasses = 0;     // tentative passes rolled back (see sendOrdered)
  };
  const OrderedCounters& orderedCounters() const { return counters_; }

 private:
  // What one queued pipeline command was, so its result can be matched to its write(s).
  struct Sent {
    enum class Kind : std::uint8_t {
      Prepare,  // Parse of `statement` for write `index`
      Row,      // one write, `index`
      Run,      // a multi-row statement for the writes [index, end) not skipped (`rows` of them)
      Utility,  // SAVEPOINT, SET CONSTRAINTS, ...: utilities_[index]
    } kind = Kind::Row;
    std::size_t index = 0;
    PreparedStatement* statement = nullptr;
    std::size_t end = 0;
    std::size_t rows = 0;
  };
  // The first failure of a batch, in write order.
  struct Failure {
    std::size_t index = 0;
    bool run = false;  // a multi-row statement failed: send [index, end) row by row
    std::size_t end = 0;
    std::optional<RefusedRow> refused;  // set: the row was refused
    std::string message;                // otherwise: a PgError with this message...
    std::string sqlstate;               // ...and code
    std::string schema, table;          // table the server named in the error
  };

  // The transaction (TargetWriter.cpp).
  void requireOpen(const char* what) const;
  void requireSettled(const char* what) const;  // no batch in flight
  void rollbackQuietly() noexcept;
  // COMMIT of the open transaction, checked (see commit()); `what` names it in errors.
  void commitOpen(std::string_view what);

  // The pipeline (TargetWriterPipeline.cpp).
  // Fills params_ for `w` in the order SqlBuilder documents. Returns the name of a column
  // whose value holds a NUL byte, or nullopt when every value was bound.
  std::optional<std::string> bindParams(const TargetWrite& w);
  using WriteAt = std::function<const TargetWrite&(std::size_t)>;
  // Queues one write (its Parse first when its shape is new). False, with `local` set, when
  // a value cannot be sent (NUL byte): the caller stops queueing there.
  bool queueWrite(const TargetWrite& w, std::size_t index, std::optional<Failure>& local);
  void queueUtility(std::string sql);
  void queueSegment(const OrderedBatch& batch, const OrderedSegment& segment,
                    std::optional<Failure>& local);
  void readResults(const WriteAt& writeAt, std::optional<Failure>& failure, std::uint64_t& rows);
  // One pass of applyOrdered (TargetWriterRefusals.cpp): sendPass queues it and syncs;
  // finishPass reads it: true when the batch landed, false when the next pass must be sent.
  void sendPass(const OrderedBatch& batch);
  bool finishPass(const RefusalHandler& onRefused);
  void unqueue() noexcept;
  // Drops the pass in flight (rollbackQuietly), keeping what its Parses did.
  void discardPass() noexcept;

  // Refusals (TargetWriterRefusals.cpp).
  // Back to the savepoint of applyOrdered(); the transaction goes on. On failure it rolls the
  // whole transaction back and throws.
  void rollbackToSavepoint();
  Failure failureFrom(const TargetWrite& w, std::size_t index, const PgResult& res) const;
  RefusedRow refusal(const TargetWrite& w, std::size_t index) const;
  void explainForeignKey(const TargetWrite& w, Failure& failure);

  PgConnection& conn_;
  const CheckpointStore& checkpoints_;
  std::string slot_;
  // The session the cached statements were prepared in (PgConnection::sessionToken).
  std::weak_ptr<const void> session_;
  StatementCache cache_;
  ParamBuffer params_;
  std::vector<Sent> sent_;
  std::vector<std::string> utilities_;  // text of the utility statements queued
  BulkStatements bulk_;
  std::vector<char> skip_;      // applyOrdered: writes refused and skipped
  std::vector<char> oneByOne_;  // applyOrdered: writes to send one statement each
  std::vector<const TargetWrite*> run_;
  std::unordered_set<Uuid, UuidHash> runRows_;
  OrderedCounters counters_;
  bool savepoint_ = false;  // applyOrdered's savepoint is set in the open transaction
  // The pass in flight: the pipeline (open until its results are read), its batch, and a
  // failure found while queueing it (a NUL byte) that counts after what was sent.
  std::optional<PipelineScope> pass_;
  const OrderedBatch* passBatch_ = nullptr;
  std::optional<Failure> passLocal_;
  bool tentative_ = false;  // the pass in flight is tentative (sendOrdered)
  bool withdrawn_ = false;  // finishPass rolled a tentative pass back
  bool open_ = false;
  std::uint64_t pendingRows_ = 0;
  std::uint64_t rowsWritten_ = 0;
};

}  // namespace pgmorph
