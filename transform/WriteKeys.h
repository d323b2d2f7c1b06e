// WriteKeys: the target rows a batch of TargetWrites touches, named by key, and whether a
// later batch may be applied beside an earlier one still in flight. Pure: the parallel apply
// (apply.sessions) runs batch N+1 in a second session while batch N is not yet committed, and
// asks this first. Commits stay in source order: N commits before N+1, whatever the sessions
// do, so a session that waits on the other's uncommitted work can hang the two of them.
//
// Keys of one write (values align as WritePlan.h says):
//   rows    Upsert, Delete, SetColumns: `row`. Subsets: `deleted` (Delete), `upserted` (Upsert).
//   refs    Upsert, SetColumns: the Present value of every `ref:` column (refTables[i] not
//           empty), parsed as a UUID.
//   owners  Release: a hash of the target table and its owner values. SetColumns: the same hash
//           of its values of plan.ownerColumns (no owner key when one of them is not among
//           plan.columns or is Absent). Collisions only cost a false conflict.
// Truncate names no row, and a ref that is not a UUID names no row we can compare: either makes
// the batch unkeyable, which conflicts with everything (the caller applies it alone).
//
// earlier.conflicts(later) is true, and the two must not run side by side, when:
//  1. either is unkeyable: we cannot tell what it touches.
//  2. both write one row. Whichever session locks it first makes the other wait; if the later
//     batch got there first, the earlier waits on a session that waits for the earlier's commit.
//  3. one deletes a row the other references. Whichever runs first makes the other wait (the
//     delete waits on the reference's KEY SHARE lock, the reference's foreign-key check on the
//     uncommitted delete); when the later batch is ahead, the same hang as in rule 2.
//  4. one upserts a row the other references, unless the caller knows the row is on the target
//     already (`knownPresent`). A new parent is invisible to the other session until it
//     commits: a reference from the later batch fails where the serial apply succeeds. The
//     mirror case (the later batch creates a parent the earlier references) is kept too, so
//     the earlier batch never meets the later one's uncommitted row. A parent that exists is
//     only updated in its non-key columns (FOR NO KEY UPDATE), which a reference's KEY SHARE
//     lock does not wait for. Not so for INSERT ... ON CONFLICT DO UPDATE whose SET names a
//     column of a unique index (a UNIQUE legacy id column): it locks the row FOR UPDATE, which
//     waits on KEY SHARE (seen on PostgreSQL 15), so the two can still hang until the apply's
//     lock timeout ends it.
//  5. both name one owner (a Release, and a SetColumns or Release of the same owner values on
//     the same target). A Release finds its rows by owner values, not by id, so rule 2 cannot
//     see that they meet: they can lock one row and hang as in rule 2.
// Two batches that reference one row and do not write it do not conflict: KEY SHARE locks share.
//
// The owner column positions are cached per WritePlan pointer across clear(): plans are built
// once by Transformer and outlive every batch, and must outlive this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cdc/model/Uuid.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

class WriteKeys {
 public:
  // Adds the keys of `writes` (may be called several times: the union).
  void add(std::span<const TargetWrite> writes);
  void clear();
  bool empty() const { return keyable_ && rows_.empty() && refs_.empty() && owners_.empty(); }
  // False once a write whose rows cannot be named was added (Truncate), or a ref value that is
  // not a UUID.
  bool keyable() const { return keyable_; }
  // `this` = an earlier batch still in flight, `later` = the batch that would run beside it.
  // True when they must NOT run side by side. `knownPresent(id)`: the caller knows this row
  // exists on the target already (committed); see rule 4. An empty function knows nothing.
  bool conflicts(const WriteKeys& later,
                 const std::function<bool(const Uuid&)>& knownPresent) const;
  // The ids for which rule 4 alone may hold between this batch and `later`: upserted by one,
  // referenced by the other, and not `knownPresent`; each with the plan whose upsert names it
  // (its target table is where the caller can look the row up, and then ask again). Appended to
  // `out`; an id may appear twice.
  void unknownUpserts(const WriteKeys& later, const std::function<bool(const Uuid&)>& knownPresent,
                      std::vector<std::pair<Uuid, const WritePlan*>>& out) const;
  // Number of keys held (rows, refs, owners), for diagnostics.
  std::size_t size() const { return rows_.size() + refs_.size() + owners_.size(); }

 private:
  using UuidSet = std::unordered_set<Uuid, UuidHash>;
  struct IdentityHash {
    std::size_t operator()(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h); }
  };

  void addWrite(const TargetWrite& w);
  void addRefs(const TargetWrite& w);
  void addSetColumnsOwner(const TargetWrite& w);
  void addReleaseOwner(const TargetWrite& w);
  // Positions in plan.columns of plan.ownerColumns, in that order; empty when one is missing.
  const std::vector<std::size_t>& ownerIndexes(const WritePlan& plan);

  bool keyable_ = true;
  UuidSet rows_;
  UuidSet deleted_;
  std::unordered_map<Uuid, const WritePlan*, UuidHash> upserted_;  // with the plan upserting it
  UuidSet refs_;
  std::unordered_set<std::uint64_t, IdentityHash> owners_;
  std::unordered_map<const WritePlan*, std::vector<std::size_t>> ownerIndexes_;
};

}  // namespace pgmorph
