#include "app/journal/JournalApply.h"

namespace pgmorph {

JournalApply::JournalApply(JournalReader& reader, TransactionApplier& applier)
    : reader_(reader), applier_(applier) {
  // Everything committing after the checkpoint, which the target has not seen.
  reader_.seek(applier_.checkpoint());
}

JournalApply::Pass JournalApply::applyAvailable(std::optional<Lsn> until, const StopFlag& stop) {
  Pass pass;
  if (reseek_) {
    if (until && unreadCommit_ && *unreadCommit_ > *until) {
      pass.reachedUntil = true;
      return pass;
    }
    reader_.seek(applier_.checkpoint());
    reseek_ = false;
    unreadCommit_.reset();
  }
  std::uint64_t sinceCheck = 0;
  for (;;) {
    auto record = reader_.next();
    if (!record) break;
    switch (record->kind) {
      case JournalReader::Record::Kind::Begin:
        if (stop.requested()) {
          pass.stopped = true;
          reseek_ = true;  // this transaction is unread: seek back before it next time
          unreadCommit_ = record->lsn;
          applier_.commitIfPossible();
          return pass;
        }
        if (until && record->lsn > *until) {
          pass.reachedUntil = true;
          reseek_ = true;
          unreadCommit_ = record->lsn;
          applier_.commitIfPossible();
          return pass;
        }
        ++pass.transactions;
        break;
      case JournalReader::Record::Kind::Message:
        decoder_.decode(record->payload, record->lsn, change_);
        applier_.onChange(change_);
        if (++sinceCheck % 4096 == 0 && stop.requested()) {
          // Half a source transaction never commits: roll it back; it is read again next time.
          applier_.abort();
          pass.stopped = true;
          reseek_ = true;
          return pass;
        }
        break;
      case JournalReader::Record::Kind::Commit:
        if (!applier_.inSourceTransaction() && applier_.batchFull()) applier_.commitIfPossible();
        break;
      case JournalReader::Record::Kind::Position:
        // Nothing commits up to this position (an idle source): the checkpoint may move there
        // once everything before it is committed.
        if (!applier_.inSourceTransaction()) {
          applier_.commitIfPossible();
          if (!applier_.hasPendingCommits() && record->lsn > applier_.checkpoint() &&
              (!until || record->lsn <= *until))
            applier_.advanceIdle(record->lsn);
        }
        break;
    }
  }
  applier_.commitIfPossible();
  if (until && applier_.checkpoint() >= *until) pass.reachedUntil = true;
  return pass;
}

}  // namespace pgmorph
