// OrphanSweeper: what becomes of the rows that name a parent the stream has just deleted, when
// no foreign key of the target covers the reference (a legacy source without that constraint
// lets a parent go while its children still name it). The mapping's `on_missing` is the
// contract, not the target's constraints (ParentChecker checks every `ref:` when a row is
// written); this class keeps it true when the parent goes away afterwards:
//   null — the children's reference becomes NULL (one UPDATE per child table and batch), and
//          each is recorded as a NullReference entry, so it is filled in again when a row
//          with that key arrives (the mapped source's value is the truth);
//   park — the children are taken off the target and parked (MissingParent, their whole row,
//          one DELETE ... RETURNING per child table and batch), so `parked list` shows them
//          and they come back when the parent does. If the target refuses to delete them
//          (a foreign key of a grandchild, NO ACTION), they stay, and the log says which;
//   fail — nothing here: the policy is about writing a row.
// A reference a foreign key covers is the target's business (NO ACTION refuses the parent's
// delete, which is then parked; CASCADE / SET NULL do what they say).
//
// Rows that name a parent that exists again (deleted and re-inserted in one batch) are left
// alone: every statement checks that the parent is really absent.
//
// The snapshot uses the same decisions for the tables it copies without parent checks (a
// self-referencing table, the tables of a cycle: one COPY each, their parents may come later
// in the same load): sweepTable() looks at every `ref:` of such a table once it is copied,
// before its transaction commits, whatever the target's keys (they are deferred or
// suspended for that load), and reports on_missing: fail rows to the caller, which stops.
//
// Owns the reverse index (parent table -> the non-enforced references onto it), built once
// from ParentChecker. Runs in the caller's open target transaction.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "sink/ParentChecker.h"
#include "state/ParkedRow.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

class OrphanSweeper {
 public:
  // `checker` and `plans` must outlive the sweeper.
  OrphanSweeper(const ParentChecker& checker, std::span<const WritePlan> plans);

  // Whether any non-enforced null/park reference points at `table` (ParentChecker index).
  bool watches(int table) const { return byParent_.count(table) != 0; }
  bool watchesAny() const { return !byParent_.empty(); }

  struct Nulled {
    const WritePlan* plan = nullptr;
    const ParentRef* ref = nullptr;
    Uuid row;               // the child row whose reference became NULL
    std::string legacyKey;  // its legacy key, when the plan keeps one ("" otherwise)
    std::string parentId;   // the id it named (to fill in again)
  };
  struct Parked {
    const ParentRef* ref = nullptr;
    TargetWrite row;  // an Upsert of the child's whole row as it was
    std::string parentId;
  };
  struct Failed {
    const WritePlan* plan = nullptr;
    const ParentRef* ref = nullptr;
    std::string legacyKey;
    std::string parentId;
  };
  struct Result {
    std::vector<Nulled> nulled;
    std::vector<Parked> parked;
    std::vector<Failed> failed;  // sweepTable only
    bool empty() const { return nulled.empty() && parked.empty() && failed.empty(); }
  };

  // After a batch's writes: `gone` are the rows deleted per parent table, `truncated` the
  // parent tables emptied. Appends what it did to `out`.
  void sweep(PgConnection& target, const std::unordered_map<int, std::vector<Uuid>>& gone,
             const std::unordered_set<int>& truncated, Result& out) const;
  // Every reference of `plan` (its table as a whole) that names a row absent from its parent
  // table, per the reference's on_missing, enforced by a foreign key or not.
  // `skip`: plan column indexes left out (checked later, see SnapshotPlan::lateChecks).
  void sweepTable(PgConnection& target, const WritePlan& plan, Result& out,
                  std::span<const std::size_t> skip = {}) const;
  // One reference of `plan` (by target column) the same way; false if it has no such ref.
  bool sweepColumn(PgConnection& target, const WritePlan& plan, const std::string& column,
                   Result& out) const;

  // The parked entries that keep what a sweep did (NullReference: the reference to fill in;
  // MissingParent: the whole row), positioned at `lsn`.
  ParkedRow parkedRow(const Nulled& n, Lsn lsn) const;
  ParkedRow parkedRow(Parked& p, Lsn lsn) const;
  // The sentence for a Failed row: which row, which column, which parent, what to do.
  std::string describe(const Failed& f, std::string_view rerun) const;

 private:
  struct Child {
    const WritePlan* plan = nullptr;
    const ParentRef* ref = nullptr;
  };
  void sweepChild(PgConnection& target, int parent, const Child& child,
                  const std::vector<Uuid>* ids, Result& out) const;

  const ParentChecker& checker_;
  std::unordered_map<int, std::vector<Child>> byParent_;
};

}  // namespace pgmorph
