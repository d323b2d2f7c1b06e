// SourceOrder: an OrderedBatch made by hand, for sink tests that want writes applied exactly
// in the order they give (source order, or a naive order under test) through the production
// path, TargetWriter::applyOrdered, rather than in BatchOrderer's order.
//
// Every write is a segment of its own: applyOrdered() applies segments one after another and
// never joins writes of two segments into one multi-row statement, so each write goes as its
// own prepared one-row statement, in the given order. That is what these tests look at (one
// statement per write: a naive order the target refuses row by row, prepared statements per
// shape, values bound as parameters); the multi-row statements have their own tests
// (OrderingBulkTest). OrderedWrite::source is the index in `writes`, so a refusal's
// RefusedRow::writeIndex is the position of the write in `writes`.
//
// The batch points into `writes`: they must outlive it.
#pragma once

#include <span>

#include "transform/BatchOrderer.h"
#include "transform/TargetWrite.h"

namespace pgmorph::sinktest {

inline OrderedBatch oneByOneInSourceOrder(std::span<const TargetWrite> writes) {
  OrderedBatch batch;
  batch.writes.reserve(writes.size());
  batch.segments.reserve(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) {
    batch.writes.push_back({&writes[i], i, false});
    batch.segments.push_back({i, i + 1, {}});
  }
  return batch;
}

}  // namespace pgmorph::sinktest
