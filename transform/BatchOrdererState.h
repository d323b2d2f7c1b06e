// BatchOrdererState: the per-segment bookkeeping that BatchOrderer's two halves share —
// coalescing the batch into entries (BatchOrderer.cpp) and emitting them in the order the
// target takes (BatchOrdererEmit.cpp). Private to those two files; see BatchOrderer.h for the
// rules.
#pragma once

#include <string>
#include <vector>

#include "transform/BatchOrderer.h"

namespace pgmorph {

struct BatchOrderer::Entry {
  WriteOp op = WriteOp::Upsert;
  const WritePlan* plan = nullptr;
  int table = 0;
  Uuid row;
  const TargetWrite* write = nullptr;  // what will be written (input or pool write)
  TargetWrite* owned = nullptr;        // the pool write, once values were merged
  std::size_t source = 0;              // last input write folded into this entry
  int prevSameRow = -1;                // previous entry of the same row (chain)
  // Counters of the table when the entry was made: merging into it is only allowed while
  // nothing that must stay ordered against it happened since (see BatchOrderer.h).
  std::uint32_t releaseEpoch = 0, partialEpoch = 0, upsertEpoch = 0;
  bool live = true;
};

struct BatchOrderer::Table {
  std::string name;  // "schema.table"
  int rank = -1;     // FkGraph::rank, -1 when the graph does not know it
  int firstSeen = 0;
  std::vector<const ForeignKey*> selfRefs;  // single-column FKs onto the table itself
  const FkCycle* cycle = nullptr;
  // Single-column FKs onto the table itself or onto another table of its cycle: the
  // references that can tie rows deleted in one segment to each other (see emitUnlinks).
  std::vector<const ForeignKey*> circleRefs;

  // Per segment.
  bool touched = false;
  bool mixed = false;  // an upsert plan and a partial plan share a column
  std::uint32_t releaseEpoch = 0, partialEpoch = 0, upsertEpoch = 0;
  std::vector<const WritePlan*> upsertPlans, partialPlans;
  std::vector<int> upserts, partials, deletes;  // live entries, source order

  void resetSegment() {
    touched = mixed = false;
    releaseEpoch = partialEpoch = upsertEpoch = 0;
    upsertPlans.clear();
    partialPlans.clear();
    upserts.clear();
    partials.clear();
    deletes.clear();
  }
};

namespace ordering {

inline bool isPartial(WriteOp op) {
  return op == WriteOp::SetColumns || op == WriteOp::Release;
}

// Copies the header of `from` (op, plan, row, position, legacy key) into an empty write.
inline void copyHeader(TargetWrite& to, const TargetWrite& from) {
  to.op = from.op;
  to.plan = from.plan;
  to.row = from.row;
  to.hasRow = from.hasRow;
  to.fresh = from.fresh;
  to.lsn = from.lsn;
  to.setLegacyKey(from.legacyKey());
}

inline void copyValue(TargetWrite& to, const TargetWrite& from, const WriteValue& v) {
  switch (v.state) {
    case ValueState::Present:
      to.addValue(from.text(v));
      break;
    case ValueState::Null:
      to.addNull();
      break;
    case ValueState::Absent:
      to.addAbsent();
      break;
  }
}

}  // namespace ordering
}  // namespace pgmorph
