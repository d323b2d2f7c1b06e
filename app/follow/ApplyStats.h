// ApplyStats: counters of one pipeline run, read by the progress log and the final summary.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "cdc/model/Lsn.h"
#include "sink/TableCounts.h"

namespace pgmorph {

struct ApplyStats {
  std::uint64_t transactionsApplied = 0;  // source transactions committed on the target
  std::uint64_t transactionsSkipped = 0;  // at or below the checkpoint (already applied)
  std::uint64_t changesApplied = 0;       // source row changes turned into target writes
  std::uint64_t changesUnmapped = 0;      // of tables neither mapped nor in `ignore:`
  std::uint64_t changesIgnored = 0;       // of tables in `ignore:` (skipped on purpose)
  std::uint64_t writes = 0;               // target writes issued
  std::uint64_t targetCommits = 0;        // target transactions committed
  Lsn checkpoint;                         // last committed on the target
  double lastApplyDelaySeconds = 0;       // source commit -> target commit, last transaction
  // Per source table: applied, filtered, parked (and later applied or discarded) changes.
  TableCountsMap tables;
  // Per source table (as the mapping names it): the source row changes committed on the
  // target, by op — insert, update, delete, truncate (ApplyOp).
  std::map<std::string, std::array<std::uint64_t, 4>> ops;
  // Per source table ("schema.table") neither mapped nor in `ignore:`: its row changes skipped
  // in committed target transactions, this process (status shows the stored total).
  std::map<std::string, std::uint64_t> unmapped;
  // Journal consumers whose unapplied transactions retention had to delete (retain_bytes), this
  // process: each time counted once per consumer (FollowJournal::tick; status and /metrics).
  std::uint64_t journalForcedPast = 0;
  // apply.sessions > 1, this process: batches that started a target transaction, and of those
  // the ones sent while another session's batch was still running (TransactionApplier).
  std::uint64_t batchesStarted = 0;
  std::uint64_t batchesBeside = 0;
  std::uint64_t batchesWaited = 0;  // waited for a batch in flight they depend on (WriteKeys)
  std::uint64_t batchesAlone = 0;   // went one at a time (parked rows, a chunk, a lock wait)
  // Batches (any number of sessions) whose decisions were made while the batch before was
  // still on the target, and sent as made (ParkingApplier, "Staging").
  std::uint64_t batchesStaged = 0;
  std::uint64_t batchesSent = 0;  // every batch sent, chunks of a large source transaction too
  // After sessions waited for each other's locks (a dependency the write keys could not see):
  // the apply runs one session at a time until its checkpoint passes this point, so that the
  // retry after the rollback does not meet the same wait again. Kept across retries.
  Lsn serialUntil;
};

enum ApplyOp : std::size_t { OpInsert = 0, OpUpdate = 1, OpDelete = 2, OpTruncate = 3 };

}  // namespace pgmorph
