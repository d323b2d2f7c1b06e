#include "app/journal/JournalTee.h"

namespace pgmorph {

void JournalTee::onMessage(const Change& change, Lsn dataStart, std::string_view payload) {
  switch (change.kind) {
    case ChangeKind::Begin:
      // A Begin without its Commit before it: the previous transaction never ended on this
      // stream (cannot happen on a healthy one); drop what was written of it.
      if (writing_) writer_.abort();
      writing_ = writer_.begin(change.nextLsn);
      skipping_ = !writing_;
      if (writing_) writer_.append(dataStart, payload);
      return;
    case ChangeKind::Commit:
      if (writing_) {
        writer_.append(dataStart, payload);
        writer_.commit();
      }
      writing_ = skipping_ = false;
      return;
    default:
      // Row changes, truncates and transactional messages inside a transaction. A message
      // outside any transaction (a non-transactional logical message) is not journaled.
      if (writing_) writer_.append(dataStart, payload);
      return;
  }
}

void JournalTee::abandon() {
  if (writing_) writer_.abort();
  writing_ = skipping_ = false;
}

}  // namespace pgmorph
