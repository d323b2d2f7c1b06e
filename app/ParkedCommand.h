// ParkedCommand: `pgmorph parked list|retry|discard` — what an operator does with parked rows.
// Owns its own target connection (and, for retry, a write path like follow's: transformer,
// catalog, orderer, writer, ParkingApplier). Safe to run while `pgmorph follow` runs: retry and
// discard are one short transaction each, and never touch the checkpoint.
//
//   list     one line per parked row, oldest first: id, kind, target table, source table,
//            legacy key, attempts, first seen, the missing parent (table and id) and the reason.
//   retry    re-applies the chosen rows now, parents first, in one transaction, with the same
//            rules as follow; rows waiting for what lands are retried too. Rows that fail again
//            stay parked with attempts + 1.
//   discard  removes the chosen rows (counted, and their ids logged).
#pragma once

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
  // `all` or `selection.ids`.
  int retry(bool all, const Selection& selection, std::ostream& out);
  // `selection.ids` or `selection.table`.
  int discard(const Selection& selection, std::ostream& out);

 private:
  const PipelineConfig& config_;
};

}  // namespace pgmorph
