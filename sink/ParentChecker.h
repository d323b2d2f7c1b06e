// ParentChecker: which target rows a write needs to exist, and whether they do — found before
// writing, in one statement per parent table per batch, never by catching foreign-key errors
// row by row. (ParkingApplier may skip the statement where the target's own key would refuse
// the batch, and then decides a refused batch again with it: see "Assumed parents" there.)
//
// Owns, per WritePlan, the references to check: every plan column that is a `ref:`, with the
// mapping's on_missing policy for it — the mapping is the contract, whether the target has a
// foreign key on the column or not (both the stream and the snapshot decide through this
// class, so they cannot drift apart). The parent table is the foreign key's when one covers
// the column alone (the FK graph of TargetCatalog), otherwise the upsert target of the
// referenced source table (the one without `where:` when it has several). A SetColumns also
// needs its own row (the row it completes) — a reference with policy park.
//
// Owns a bounded cache of rows known to exist, per parent table: rows this process saw on the
// target or wrote itself. pgmorph is the target's only writer, so a row it knows to exist goes
// away only through its own Delete/Truncate (noteGone / noteTruncated); if something else
// deletes one, the database still refuses the write and the row is parked from that refusal.
// The cache is cleared whole when it reaches its bound (memory stays flat). Only tables that
// something references (or that a partial target completes) are cached: no one asks about
// the others' rows. Checkers of one snapshot also share what their committed transactions
// wrote or found (share(), CommittedRows), so a worker does not ask about the parents that
// another worker copied.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cdc/model/Uuid.h"
#include "cdc/pg/PgConnection.h"
#include "sink/CommittedRows.h"
#include "sink/TargetCatalog.h"
#include "sink/UuidSet.h"
#include "transform/Config.h"
#include "transform/WritePlan.h"

namespace pgmorph {

struct ParentRef {
  std::size_t column = 0;  // index in plan.columns (SIZE_MAX: the write's own row)
  std::string columnName;  // target column ("recipient_id"; the id column for own row)
  int parent = 0;          // ParentChecker table index of the parent
  RowPolicy onMissing = RowPolicy::Park;
  std::string sourceParent;  // source table whose key the value maps ("dispatch_user")
  bool enforced = false;     // a foreign key of the target covers the column
  // That key fails the statement of a row whose parent is missing, then and there (see
  // ForeignKey::checksAtOnce): ParentGate may assume the parent, and look it up only if the
  // statement is refused.
  bool checkedByTarget = false;
  static constexpr std::size_t kOwnRow = static_cast<std::size_t>(-1);
};

class ParentChecker {
 public:
  // `plans` (the transformer's) and the catalog must outlive the checker.
  ParentChecker(const TargetCatalog& catalog, std::span<const WritePlan> plans,
                std::size_t cacheLimit = 200000);

  // References of a plan's upserts (SetColumns add their own row, see ownRow()).
  std::span<const ParentRef> refs(const WritePlan& plan) const;
  // The own-row reference of a plan's SetColumns.
  const ParentRef& ownRow(const WritePlan& plan) const;

  // Table index of "schema.table" (every plan's target and every parent), -1 if unknown.
  int table(const std::string& qualified) const;
  const std::string& tableName(int table) const { return tables_[table].name; }
  const std::string& idColumn(int table) const { return tables_[table].idColumn; }
  // "<table>.<column> names <parent table> <id> (a <source> row), which is not on the target",
  // or, for a partial target's own row, "the <table> row <id> it completes is not ...".
  std::string describeAbsent(const WritePlan& plan, const ParentRef& ref, const Uuid& id) const;

  bool knownPresent(int table, const Uuid& id) const;
  // Known present in any table (ids are per source row, so a hit names the row's table or a
  // fan-out sibling of it): what the apply's sessions ask before running two batches side by
  // side (WriteKeys::conflicts).
  bool knownPresentAnywhere(const Uuid& id) const;
  // Asks the target which of `ids` exist in `table` (one statement) and remembers the ones
  // that do. `present[i]` tells for ids[i].
  void lookup(PgConnection& target, int table, std::span<const Uuid> ids,
              std::vector<char>& present);
  // Remembers `id` in `table` — unless nothing references that table (see above).
  void notePresent(int table, const Uuid& id);
  void noteGone(int table, const Uuid& id);
  void noteTruncated(int table);
  void forget();  // after a rollback: what this transaction wrote is not there any more

  // Rows known committed, shared with other checkers (the snapshot's workers; see
  // CommittedRows): lookup() takes the ids found there as present without asking the target;
  // what this checker notes present goes there once committed() says its transaction has
  // committed; what it notes gone leaves it at once. Not owned; null (the default): none.
  void share(CommittedRows* committed) { committed_ = committed; }
  // A row this transaction wrote into `table`: published by committed(), as notePresent()
  // would, but not cached here (the writer itself does not ask about its own rows; keeping
  // them cost a snapshot 31 MB of resident memory). Nothing happens without shared rows.
  void noteLanded(int table, const Uuid& id);
  // The transaction in which this checker noted rows present has committed: they are
  // published to the shared rows (nothing happens without them).
  void committed();

  std::size_t lookups() const { return lookups_; }  // statements sent (for tests)

 private:
  struct Table {
    std::string name;      // "schema.table"
    std::string idColumn;  // referenced column
    std::string idType;    // its type, for the array cast
    UuidSet present;
    bool referenced = false;  // a parent of some reference, or a partial target's own row
  };
  struct PlanRefs {
    std::vector<ParentRef> refs;
    ParentRef own;
  };
  struct ParentTarget {
    std::string table;  // "schema.table"
    std::string idColumn;
  };
  int addTable(const std::string& name, const std::string& column, const TargetCatalog& catalog);
  // The target table holding the rows of `sourceTable` (an idName), or nullptr.
  const ParentTarget* parentOf(std::span<const WritePlan> plans, const std::string& sourceTable);

  std::unordered_map<std::string, std::optional<ParentTarget>> parentTargets_;
  std::vector<Table> tables_;
  std::unordered_map<std::string, int> byName_;
  std::unordered_map<const WritePlan*, PlanRefs> plans_;
  std::size_t cacheLimit_;
  std::size_t cached_ = 0;
  std::size_t lookups_ = 0;
  CommittedRows* committed_ = nullptr;
  // Since the last commit, per table: noted present (published by committed()), and noted
  // gone (not published); pending_ counts the first.
  std::vector<std::vector<Uuid>> uncommitted_;
  std::vector<UuidSet> gone_;
  std::size_t pending_ = 0;
  static constexpr std::size_t kMaxPending = 250'000;
  void clearCache();  // the bound is reached: the cache starts over (nothing else changes)
  // Puts `id` in the cache of `table` (not for a table nothing references); true if it was
  // not there. Publishes nothing: notePresent() does that.
  bool cache(int table, const Uuid& id);
};

// The sentence for `what` (a write) whose parent is `missing` (describeAbsent), ending with
// what `policy` does about it; with fail, `rerun` says how to go on once the row is loaded.
std::string describeMissingParent(std::string_view what, std::string_view missing, RowPolicy policy,
                                  std::string_view column, std::string_view rerun);

}  // namespace pgmorph
