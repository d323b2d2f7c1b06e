// Walks a segment's frames from a boundary and says where its last complete transaction (or
// Position) ends: what the writer keeps at recovery, and where a reader finds the journal's
// end. Checks the frame grammar too: (Begin Message* Commit | Position)*, Commit's lsn equal
// to its Begin's.
#pragma once

#include <cstdint>
#include <vector>

#include "state/journal/SegmentFile.h"

namespace pgmorph::journal {

struct SegmentScan {
  std::uint64_t boundary = 0;       // the offset just past the last complete transaction/Position
  Lsn lastLsn;                      // its commit end (or Position); `fromLsn` when none
  std::vector<IndexEntry> entries;  // every transaction/Position found, in order
  std::uint64_t stoppedAt = 0;      // where the walk stopped (a frame that did not decode, or
                                    // the grammar broke), boundary when the file ended cleanly
  DecodeStatus stop = DecodeStatus::Incomplete;  // why: Incomplete (file ended) or Corrupt
  bool tornTransaction = false;  // Begin without Commit, or a broken frame after boundary
};

SegmentScan scanSegment(FrameScanner& scanner, std::uint64_t fromOffset, Lsn fromLsn);

}  // namespace pgmorph::journal
