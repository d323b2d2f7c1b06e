// ParkedCommand: `pgmorph parked list|retry|discard` — what an operator does with parked rows.
// Owns its own target connection (and, for retry, a write path like follow's: transformer,
// catalog, orderer, writer, ParkingApplier). Safe to run while `pgmorph follow` runs: each
// retry batch takes the parked rows' lock (ParkedStore::lock) like follow's transactions, and
// no retry or discard ever touches the checkpoint.
//
//   list     one line per parked row, oldest first: id, kind, target table, source table,
//            legacy key, attempts, first seen, the missing parent (table and id, and its source
//            table and legacy key read from the source: ParkedParentKeys) and the reason.
//   retry    re-applies the chosen rows now, parents first (FK rank of the target table), in
//            batches of `batch` entries, each its own transaction that commits (ParkedRetry.cpp),
//            with the same rules as follow; rows waiting for what lands are retried too. Parents
//            are checked in bulk before writing, so a row whose parent is still missing is not
//            sent (no ERROR in the server's log). Rows that fail again stay parked with
//            attempts + 1. A progress line every few seconds; SIGINT/SIGTERM stop after the
//            batch in flight commits: what was applied stays applied, the rest stays parked.
//   discard  removes the chosen rows (counted, and their ids logged).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "state/ParkedRow.h"
#include "transform/Config.h"

namespace pgmorph {

class ParkedCommand {
 public:
  explicit ParkedCommand(const PipelineConfig& config);

  struct Selection {
    std::vector<std::int64_t> ids;  // explicit ids (retry --id, discard --id)
    std::string table;              // target or source table (list, discard)
    std::string reason;             // substring of the reason (list)
    std::optional<ParkKind> kind;   // list --kind
    std::size_t limit = 0;          // list: at most this many rows (0 = all)
    bool wide = false;              // list: reasons in full
  };

  // Exit codes: 0 done; 1 an id that is not parked; (errors are thrown: PgmorphError).
  int list(const Selection& selection, std::ostream& out);
  struct RetryOptions {
    std::size_t batch = 1000;               // entries per transaction
    std::chrono::seconds progressEvery{5};  // a progress line at most this often
  };
  // `all` or `selection.ids`. Exit 0 also when stopped by a signal (the line says what is
  // left).
  int retry(bool all, const Selection& selection, const RetryOptions& options, std::ostream& out);
  // `selection.ids` or `selection.table`.
  int discard(const Selection& selection, std::ostream& out);

 private:
  const PipelineConfig& config_;
};

}  // namespace pgmorph
