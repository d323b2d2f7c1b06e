#include "state/journal/SegmentScan.h"

namespace pgmorph::journal {

SegmentScan scanSegment(FrameScanner& scanner, std::uint64_t fromOffset, Lsn fromLsn) {
  SegmentScan scan;
  scan.boundary = fromOffset;
  scan.lastLsn = fromLsn;
  std::uint64_t offset = fromOffset;
  bool inTxn = false;
  std::uint64_t beginOffset = 0;
  Lsn txnLsn;
  for (;;) {
    DecodedFrame frame;
    const DecodeStatus status = scanner.frameAt(offset, frame);
    bool grammarOk = status == DecodeStatus::Ok;
    if (grammarOk) {
      switch (frame.kind) {
        case FrameKind::Begin:
          grammarOk = !inTxn;
          break;
        case FrameKind::Message:
          grammarOk = inTxn;
          break;
        case FrameKind::Commit:
          grammarOk = inTxn && frame.lsn == txnLsn;
          break;
        case FrameKind::Position:
          grammarOk = !inTxn;
          break;
      }
    }
    if (!grammarOk) {
      scan.stoppedAt = offset;
      scan.stop = status == DecodeStatus::Incomplete ? status : DecodeStatus::Corrupt;
      scan.tornTransaction = inTxn || offset != scan.boundary;
      return scan;
    }
    switch (frame.kind) {
      case FrameKind::Begin:
        inTxn = true;
        beginOffset = offset;
        txnLsn = frame.lsn;
        break;
      case FrameKind::Message:
        break;
      case FrameKind::Commit:
        inTxn = false;
        scan.entries.push_back({frame.lsn, beginOffset});
        scan.lastLsn = frame.lsn;
        scan.boundary = offset + frame.size;
        break;
      case FrameKind::Position:
        scan.entries.push_back({frame.lsn, offset});
        scan.lastLsn = frame.lsn;
        scan.boundary = offset + frame.size;
        break;
    }
    offset += frame.size;
  }
}

}  // namespace pgmorph::journal
