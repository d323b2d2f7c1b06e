// JournalApply: applies the journal's transactions (state/journal/Journal.h) to a target
// through the same TransactionApplier that follow uses on the slot's stream — same transform,
// parking, batching and exactly-once rule: the checkpoint moves with the writes, in the target's
// transaction, and a transaction whose commit end is at or below it is skipped whole. Used by
// `replay`, by follow when its target is behind the slot and the journal covers the gap, and by
// a pipeline whose source is a journal.
//
// It starts after the applier's checkpoint (the reader throws JournalGap, naming the range the
// journal holds, when the journal does not cover it) and reads only complete transactions, so
// a target transaction never commits half a source transaction.
#pragma once

#include <cstdint>
#include <optional>

#include "app/StopFlag.h"
#include "app/follow/TransactionApplier.h"
#include "cdc/Wal2JsonDecoder.h"
#include "state/journal/Journal.h"

namespace pgmorph {

class JournalApply {
 public:
  // Seeks `reader` to the first transaction committing after the applier's checkpoint.
  JournalApply(JournalReader& reader, TransactionApplier& applier);

  struct Pass {
    std::uint64_t transactions = 0;  // source transactions read from the journal in this pass
    bool reachedUntil = false;       // the next transaction commits after `until`
    bool stopped = false;  // the stop flag ended the pass (what was half-read rolled back)
  };
  // Applies every complete transaction the journal holds now, or those committing at or before
  // `until`; commits the target as batches fill and at the end. Returns when the journal has
  // nothing more yet, at `until`, or when `stop` is requested (checked between transactions and
  // every few thousand messages inside a large one).
  Pass applyAvailable(std::optional<Lsn> until, const StopFlag& stop);

 private:
  JournalReader& reader_;
  TransactionApplier& applier_;
  Wal2JsonDecoder decoder_;
  Change change_;
  // An earlier pass ended inside the reader's stream (on a Begin past `until`, or stopped): the
  // next pass seeks back to the checkpoint so that transaction is read whole.
  bool reseek_ = false;
  std::optional<Lsn> unreadCommit_;  // that transaction's commit end, when it ended on a Begin
};

}  // namespace pgmorph
