// ParentGate: the parent gate of one round of ParkingApplier, and the mapping's on_missing.
// Before anything is written, every reference the target enforces in each group's net effect
// is checked: a parent is there when the round upserts it earlier (and that upsert is not
// parked itself: chains are followed to a fixpoint), or it is known to exist (ParentChecker's
// cache), or the target has it (one statement per parent table for what is still unknown);
// deleted or truncated in the round means missing. What is still unknown may instead be
// assumed present where the target's own check would refuse the statement (see check()). Per the
// column's on_missing the group is parked (with the missing parent), keeps its row with the
// reference written NULL to fill in later, or the round stops (PgmorphError naming row, column,
// parent and policy).
//
// Owns the round's answers from the target (db_); ParentChecker (the caller's) keeps what
// outlives the round.
#pragma once

#include <span>
#include <string>
#include <unordered_map>

#include "cdc/pg/PgConnection.h"
#include "sink/ParentChecker.h"
#include "sink/WriteGroups.h"

namespace pgmorph {

class ParentGate {
 public:
  explicit ParentGate(ParentChecker& checker) : checker_(checker) {}

  // Sets each group's refs, and for a missing parent its state (Parked, or Dropped for a
  // fill-in whose own row is gone), missing/missingId, or a `nulled` entry (on_missing:
  // null). Throws PgmorphError (Operator) for on_missing: fail.
  // With `assume`, a parent the round does not settle and the cache does not know is taken
  // as present, without a lookup, where the target itself refuses the statement if it is not:
  // a reference whose foreign key checks at once (ParentRef::checkedByTarget), or the own row
  // of a SetColumns whose missing row the writer reports (not rowOptional). assumed() says
  // whether any was; the caller then sends the round tentatively and, if the target refuses
  // it, checks again without `assume` (ParkingApplier).
  void check(PgConnection& target, std::span<const TargetWrite> writes, WriteGroups& groups,
             bool assume = false);
  bool assumed() const { return assumed_; }
  // Staging (ParkingApplier::prestage), without the target and without the cache: true when
  // every reference of every group is settled present by the round's own writes, or is one the
  // target refuses if its parent is missing (then `assumed` is set); false when anything would
  // need a lookup, or is missing, or a group is not live. Sets the groups' refs, nothing else:
  // it may run while another batch of the session is in flight.
  bool settledWithoutTarget(std::span<const TargetWrite> writes, WriteGroups& groups,
                            bool& assumed) const;
  // Parked groups that need no keeping: the row ends deleted later in the round, or a later
  // release stops naming it (a partial target's fill-in). They become Dropped.
  void decideDrops(std::span<const TargetWrite> writes, WriteGroups& groups) const;

  // The sentence for a missing parent of group `g` (write `w`) under `policy`.
  std::string describeMissing(const WriteGroup& g, const TargetWrite& w, const ParentRef& ref,
                              const Uuid& id, RowPolicy policy) const;

 private:
  enum class Status { Present, Missing, Unknown };
  // Whether the row is there after the round's writes (its last upsert or delete, a truncate).
  Status status(const WriteGroups& groups, int table, const Uuid& id) const;
  // The same from the round's own writes alone (Unknown where the round does not say).
  static Status roundStatus(const WriteGroups& groups, int table, const Uuid& id);
  void collectRefs(std::span<const TargetWrite> writes, WriteGroups& groups) const;

  // Whether the target refuses group `g`'s statement if the parent `r` names is missing.
  static bool targetRefusesMissing(std::span<const TargetWrite> writes, const WriteGroup& g,
                                   const ParentRef& r);

  ParentChecker& checker_;
  std::unordered_map<RowKey, bool, RowKeyHash> db_;  // looked up on the target this round
  bool assumed_ = false;                             // check() assumed a parent
};

}  // namespace pgmorph
