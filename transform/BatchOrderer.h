// BatchOrderer: turns the TargetWrites of one batch (one or more whole source transactions,
// or one chunk of a large one, in source order) into the order in which the target can take
// them: each target row's net effect, upserts parent-first and deletes child-first by the
// target's FK graph. Pure: no I/O. Owns the merged and derived writes it hands out (valid
// until the next order() call) and scratch state reused from batch to batch.
//
// Implemented in three files: BatchOrderer.cpp (coalescing and segments), BatchOrdererEmit.cpp
// (the order of a segment), BatchOrdererPartials.cpp (waves of partial writes); the entries
// they share are in BatchOrdererState.h.
//
// The rules (each one has a test in transform/tests/BatchOrderer*Test.cpp):
//
//  Segments. A batch is cut into segments applied one after another; every rule below works
//  inside one segment. A segment ends
//   - around a Truncate (a barrier: it runs alone, after everything before it and before
//     everything after it), and
//   - before an Upsert or SetColumns of a row that the segment has deleted. A delete followed
//     by a re-insert of the same key is NOT folded into one upsert: the delete must really
//     happen first, because the target may hang effects on it that an upsert would skip —
//     ON DELETE CASCADE / SET NULL children, columns the upsert does not write (filled by a
//     partial target, or left to their default), triggers. Re-inserting a deleted key is rare,
//     so the price (one more segment) is paid rarely.
//
//  Coalescing (per target row: table + row id, per plan for the values).
//   - Upsert + Upsert -> one Upsert at the first one's place: a later present or NULL value
//     wins, a later Absent (unchanged TOAST) keeps the earlier value.
//   - Upsert .. Delete -> the (merged) Upsert and the Delete: not the Delete alone, because
//     writes between them may reference the row (a new order's jaws and payments, then the
//     order deleted in the same batch); those run before the deletes and need the row.
//     SetColumns .. Delete -> the Delete alone (what it wrote into the row goes with it).
//     Delete + Delete -> one Delete.
//   - SetColumns + SetColumns of one partial plan -> one SetColumns (later present value wins
//     per column), unless a Release of the same table came in between: a Release is a
//     predicate over owner columns, so moving a SetColumns across it could change what it
//     matches (the upper/lower jaw swap). Releases are never coalesced.
//   Coalescing never crosses a call to order(): a chunk already written stays written.
//
//  Order inside a segment.
//   1. Tables by FkGraph::rank, parents first (tables the graph does not know go last, in
//      order of first appearance). For each table: its upserts, then its partial writes
//      (SetColumns and Release). The upserts of a table go grouped by shape (plan and absent
//      columns; groups in order of first appearance, source order inside a group), so that
//      each shape is one multi-row statement: rows of one table do not reference each other
//      (but see self-reference below, which keeps its own order), and the same row written
//      by two plans keeps source order. Partial writes of a table come after its
//      upserts because they may complete a row upserted in the same batch; that moves an
//      upsert ahead of a partial write, which is only safe when the two plans write
//      different columns — when an upsert plan and a partial plan of one table share a
//      column, that table's writes keep plain source order (and do not merge across each
//      other).
//      Partial writes go in waves of writes that commute (see emitPartials): per wave, the
//      releases, then the set-columns, each grouped by plan in source order. Two writes
//      that do not commute (two sets of one row; a set whose owner values a later release
//      matches without keeping that row) keep their source order through the waves, so the
//      result is the source order's; what the waves buy is long runs of one plan and op,
//      which the sink writes as one statement each.
//   2. Then deletes, tables child-first (reverse rank), source order inside a table.
//   Self-reference (an FK of a table onto its own id column): upserts of that table whose
//   referenced row is upserted in the same segment go after it (stable topological order).
//   Rows that reference each other in a circle: with a DEFERRABLE constraint the segment
//   lists it in `deferred` (the sink defers it for the segment); otherwise write-then-fix:
//   those rows are upserted with the reference NULL and a SetColumns right after the
//   table's upserts puts it back (a NOT NULL reference then fails, as it would in any order).
//   Cycles between tables (FkGraph::cycles(), one shared rank): when those tables get only
//   upserts in the segment, their rows go in the self-reference's way across the tables
//   (a row after the row it names; circles write-then-fix, or deferred); when every
//   constraint of the cycle is DEFERRABLE the segment lists them in `deferred` as well. With
//   partial writes among them, the writes keep their relative source order (the order the
//   source accepted).
//
//  Deleting rows that reference each other (a self-reference, or a cycle of two or more
//  tables). The source may have let them go in one transaction (its constraint deferrable, or
//  one statement); the target's constraint may not. A Delete carries only the row's id, so
//  which deleted row names which is not known here: the rule is per constraint, for every
//  segment that deletes two or more rows of the table (or of the cycle's tables), and follows
//  what PostgreSQL does for each referential action:
//   - ON DELETE CASCADE, SET NULL, SET DEFAULT: deleting one row already changes the other
//     one the way its own delete or update would, so any order lands. Nothing is added
//     (nulling first would fire the target's update triggers for nothing).
//   - NO ACTION, DEFERRABLE: checked at the end of the transaction when deferred; the segment
//     lists it in `deferred` (checked at the segment's end).
//   - NO ACTION not deferrable, and RESTRICT (checked at once for each row, never deferred,
//     whatever the declaration says), on a nullable column: *unlink first*. Before the
//     deletes, a SetColumns writes NULL into that reference of every row about to be deleted
//     (rowOptional: a row not on the target is no error). Chosen over "one statement for all
//     deletes" because that only covers NO ACTION, only one table, and only while the run
//     stays whole: when one row of the run is refused for another reason, the writer isolates
//     row by row and the circle would be refused again. The cost: one multi-row UPDATE of the
//     deleted rows per segment, only on tables that have such a circle.
//   - NO ACTION not deferrable on a NOT NULL self-reference: cannot be unlinked; the table's
//     deletes are marked `together` and go as one statement whatever the run's length (NO
//     ACTION is checked at the statement's end). A NOT NULL, non-deferrable cycle between
//     tables cannot hold rows on the target at all (no insert order exists), so it has no
//     deletes to order.
//   Updates that change a reference and primary-key changes (a Delete of the old id plus an
//   Upsert of the new) need nothing more: upserts go first (write-then-fix above for
//   circles), so the references are re-pointed before the old rows are deleted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "transform/FkGraph.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

struct OrderedWrite {
  // An input write, or a write the orderer made (merged values, write-then-fix).
  const TargetWrite* write = nullptr;
  // Index in the input span of the (last) source write this one stands for: what a caller
  // reports, parks or counts when this write is refused.
  std::size_t source = 0;
  // Send with the following writes of the same shape as one statement, even a short run.
  bool together = false;
};

struct OrderedSegment {
  std::size_t begin = 0;  // [begin, end) in OrderedBatch::writes
  std::size_t end = 0;
  // DEFERRABLE constraints to defer while this segment is written (and check at its end).
  std::vector<const ForeignKey*> deferred;
};

struct OrderedBatch {
  std::vector<OrderedWrite> writes;  // application order
  std::vector<OrderedSegment> segments;
  std::size_t folded = 0;   // input writes merged into an earlier write of the same row
  std::size_t dropped = 0;  // set-columns superseded by a later delete of their row
  std::size_t fixes = 0;    // write-then-fix SetColumns added for self-reference cycles
  std::size_t unlinks = 0;  // references NULLed before deleting rows of a circle
};

class BatchOrderer {
 public:
  // `graph` must outlive the orderer; so must the WritePlans of the writes given to order().
  explicit BatchOrderer(const FkGraph& graph);
  ~BatchOrderer();
  BatchOrderer(const BatchOrderer&) = delete;
  BatchOrderer& operator=(const BatchOrderer&) = delete;

  // Orders one batch. The result (and every write it points to that is not an input write)
  // stays valid until the next call; input writes must stay alive as long as it is used.
  const OrderedBatch& order(std::span<const TargetWrite> writes);

 private:
  struct Entry;
  struct Table;
  struct RowKey {
    int table = 0;
    Uuid row;
    bool operator==(const RowKey&) const = default;
  };
  struct RowKeyHash {
    std::size_t operator()(const RowKey& k) const noexcept;
  };

  void startSegment(std::size_t index);
  void finishSegment();
  bool needsBarrier(const TargetWrite& w, std::size_t index);
  void add(const TargetWrite& w, std::size_t index);
  int tableOf(const WritePlan& plan);
  void notePlan(Table& t, const WritePlan& plan, bool partial);
  Entry* findLive(const RowKey& key, WriteOp op, const WritePlan* plan);
  void merge(Entry& e, const TargetWrite& later, std::size_t index);
  TargetWrite& derived();
  void emitUpserts(Table& t, OrderedSegment& seg);
  // Upserts (entries, source order) whose rows may name each other through circleRefs:
  // parents first, circles written with the reference NULL then fixed, or deferred.
  void emitLinked(const std::vector<int>& list, OrderedSegment& seg);
  void emitShapeGroups(const std::vector<int>& list);
  void emitPartials(Table& t);
  void emitEntry(int entry);
  void emitNulledUpsert(const Entry& e, const std::vector<std::size_t>& nulled);
  void emitFix(const Entry& e, const std::vector<std::size_t>& columns);
  // Before the deletes `deletes` (entries of one table or one cycle, source order): what lets
  // rows that reference each other go. Returns how many unlink writes it emitted.
  std::size_t emitUnlinks(const std::vector<int>& deletes, OrderedSegment& seg);

  const FkGraph& graph_;
  OrderedBatch out_;

  // Per order() call.
  std::unordered_map<const WritePlan*, int> planTable_;
  std::unordered_map<std::string, int> tableIndex_;
  std::vector<Table> tables_;
  std::vector<int> touched_;  // tables written in the current segment
  // Per segment.
  std::vector<Entry> entries_;
  std::unordered_map<RowKey, int, RowKeyHash> rowHead_;  // row -> last entry (chained)
  std::size_t segmentStart_ = 0;
  bool truncateSegment_ = false;  // the current segment is a truncate
  // Writes made by the orderer; a deque so that their addresses survive growth.
  std::deque<TargetWrite> pool_;
  std::size_t poolUsed_ = 0;
  TargetWrite scratch_;
  std::unordered_set<Uuid, UuidHash> groupRows_;
  std::vector<const WritePlan*> together_;  // emitUnlinks: plans whose deletes go as one
  std::vector<char> groupDone_;
};

}  // namespace pgmorph
