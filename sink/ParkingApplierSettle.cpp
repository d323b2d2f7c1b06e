// ParkingApplier, steps 3 and 4 after the writer has applied a round: the writes the target
// refused are sorted out (parked with the database's reason, an on_missing: null reference
// retried once with NULL, on_missing: fail stopped), what landed is counted and remembered
// (parents present, rows waiting for them), and rows that name parents the round deleted
// through references no target key covers are swept (OrphanSweeper). See ParkingApplier.h.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cdc/model/Errors.h"
#include "cdc/pg/SqlState.h"
#include "sink/ParkingApplier.h"

namespace pgmorph {

void ParkingApplier::settleRefusals(std::vector<std::vector<ParkedRow>>& carried,
                                    bool allowFollowups) {
  for (Refusal& r : refusals_) {
    std::size_t orig = kept_[r.row.writeIndex];
    int gi = groups_.groupOf(orig);
    if (gi >= 0) groups_[gi].refused = true;
  }
  for (Refusal& r : refusals_) {
    std::size_t orig = kept_[r.row.writeIndex];
    int gi = groups_.groupOf(orig);
    if (gi < 0) {
      // A delete, release or truncate: parked as refused, with what it stood for.
      WriteGroup loose;
      loose.plan = r.write.plan;
      loose.row = r.write.row;
      loose.table = groups_.tableOf(orig);
      loose.op = r.write.op;
      loose.carried = std::move(carried[orig]);
      parkGroup(loose, r.write, ParkKind::Refused, &r.row);
      continue;
    }
    WriteGroup& g = groups_[gi];
    TargetWrite w;
    w = r.write;
    for (const WriteGroup::Nulled& n : g.nulled) {
      TargetWrite restored;
      WriteEdits::withValue(w, n.ref->column, n.text, restored);
      w = std::move(restored);
    }
    if (r.row.sqlstate == sqlstate::kForeignKeyViolation) {
      auto ref = std::find_if(g.refs.begin(), g.refs.end(), [&](const WriteGroup::Ref& gr) {
        return gr.ref->column != ParentRef::kOwnRow && gr.ref->columnName == r.row.column;
      });
      if (ref != g.refs.end()) {
        // Known missing now, whatever this process thought.
        shared_->checker.noteGone(ref->ref->parent, ref->id);
        if (ref->ref->onMissing == RowPolicy::Fail)
          throw PgmorphError(ErrorClass::Operator,
                             gate_.describeMissing(g, w, *ref->ref, ref->id, RowPolicy::Fail));
        if (ref->ref->onMissing == RowPolicy::Null && allowFollowups) {
          // Once more, through the checks, which will now write NULL and keep the reference.
          followups_.push_back(std::move(w));
          followupCarried_.push_back(std::move(g.carried));
          g.carried.clear();
          continue;
        }
        g.missing = ref->ref;
        g.missingId = ref->id;
        parkGroup(g, w, ParkKind::MissingParent, &r.row);
        continue;
      }
    }
    if (r.row.sqlstate == sqlstate::kNoData && g.op == WriteOp::SetColumns) {
      g.missing = &shared_->checker.ownRow(*g.plan);
      g.missingId = g.row;
      shared_->checker.noteGone(g.table, g.row);
      parkGroup(g, w, ParkKind::MissingParent, &r.row);
      continue;
    }
    parkGroup(g, w, ParkKind::Refused, &r.row);
  }
}

void ParkingApplier::settleLanded(std::span<TargetWrite> writes,
                                  std::vector<std::vector<ParkedRow>>& carried) {
  std::vector<char> refusedAt(writes.size(), 0);
  for (const Refusal& r : refusals_) refusedAt[kept_[r.row.writeIndex]] = 1;
  for (std::size_t k = 0; k < kept_.size(); ++k) {
    std::size_t orig = kept_[k];
    const TargetWrite& w = writes[k];
    int gi = groups_.groupOf(orig);
    bool landed = gi >= 0 ? !groups_[gi].refused : !refusedAt[orig];
    if (landed) ++countsOf(*w.plan).applied;
    if (gi >= 0 || !landed) continue;
    if (w.op == WriteOp::Delete) shared_->checker.noteGone(groups_.tableOf(orig), w.row);
    if (w.op == WriteOp::Truncate) shared_->checker.noteTruncated(groups_.tableOf(orig));
    if ((w.op == WriteOp::Delete || w.op == WriteOp::Truncate) &&
        sweeper_.watches(groups_.tableOf(orig))) {
      if (w.op == WriteOp::Delete)
        gone_[groups_.tableOf(orig)].push_back(w.row);
      else
        emptied_.insert(groups_.tableOf(orig));
      goneLsn_ = std::max(goneLsn_, w.lsn);
    }
    removeEntries(carried[orig], true);
  }
  for (WriteGroup& g : groups_.all()) {
    if (g.state != WriteGroup::State::Live || g.refused) continue;
    removeEntries(g.carried, true);
    // The row is deleted later in this batch (the upsert is kept for what references it in
    // between): no reference to fill in, and it is not there for what comes next — neither a
    // parent to remember as present (the deletes above already said it is gone) nor an
    // arrival for the rows that wait for it.
    bool goneLater = groups_.goneAfter(g.table, g.row, g.writes.back());
    if (g.op == WriteOp::Upsert && upsertPlan(*g.plan) && !goneLater) {
      arrivals_[g.table].push_back(g.row);
      shared_->checker.notePresent(g.table, g.row);
    }
    if (!g.nulled.empty() && !goneLater) {
      // The write as sent: find one of its writes (moved by the compaction) for key and lsn.
      const TargetWrite* any = nullptr;
      for (std::size_t k = 0; k < kept_.size() && !any; ++k)
        if (groups_.groupOf(kept_[k]) == static_cast<int>(&g - groups_.all().data()))
          any = &writes[k];
      for (const WriteGroup::Nulled& n : g.nulled) parkNullReference(g, n, *any);
    }
  }
}

void ParkingApplier::sweepOrphans() {
  // Parking a child takes it off the target, which may orphan its own children in turn: to a
  // fixpoint (each pass only finds rows that still name an absent parent, so this ends).
  while (!gone_.empty() || !emptied_.empty()) {
    OrphanSweeper::Result found;
    sweeper_.sweep(target_, gone_, emptied_, found);
    gone_.clear();
    emptied_.clear();
    for (const OrphanSweeper::Nulled& n : found.nulled) {
      ParkedRow r = sweeper_.parkedRow(n, goneLsn_);
      r.reason = fmt::format(
          "{}.{} named {} {} (a {} row), which was deleted on the source; written as NULL, filled "
          "in when it arrives again (on_missing: null)",
          n.plan->targetTable, n.ref->columnName, r.missingTable, n.parentId, n.ref->sourceParent);
      store_.park(target_, r);
      shared_->waited.insert(n.ref->parent);
      ++countsOf(*n.plan).nulled;
    }
    for (OrphanSweeper::Parked& p : found.parked) {
      const WritePlan& plan = *p.row.plan;
      ParkedRow r = sweeper_.parkedRow(p, goneLsn_);
      r.reason = fmt::format(
          "{}.{} names {} {} (a {} row), which was deleted on the source; the row is parked until "
          "it arrives again (on_missing: park)",
          plan.targetTable, p.ref->columnName, r.missingTable, p.parentId, p.ref->sourceParent);
      store_.park(target_, r);
      shared_->waited.insert(p.ref->parent);
      ++countsOf(plan).parked;
      int own = shared_->checker.table(plan.targetName());
      if (own < 0) continue;
      shared_->checker.noteGone(own, p.row.row);
      if (sweeper_.watches(own)) gone_[own].push_back(p.row.row);
    }
    if (!found.nulled.empty() || !found.parked.empty()) {
      shared_->anyParked = true;
      spdlog::info(
          "rows naming parents deleted on the source (references without a target foreign key): "
          "{} set to NULL, {} parked until their parent arrives again",
          found.nulled.size(), found.parked.size());
    }
  }
  goneLsn_ = Lsn();
}

}  // namespace pgmorph
