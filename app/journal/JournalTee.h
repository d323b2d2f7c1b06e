// JournalTee: writes what the slot sends into the journal (state/journal/Journal.h), one stream
// message at a time, beside (or instead of) applying it. It decides per source transaction:
// a transaction the journal already holds (its commit end <= the journal's end: the slot resends
// what was journaled but not yet confirmed) is skipped whole; any other is appended from its
// Begin to its Commit, and becomes visible to readers at the Commit.
//
// What is journaled is the raw wal2json message with its XLogData start — what the source
// sent, not what the mapping made of it — so that a replay can use a corrected mapping.
// Non-transactional messages (our heartbeats) are not journaled: the caller records an idle
// position with JournalWriter::advance() when nothing is in flight.
//
// Durability is the caller's: sync() the writer before confirming anything from it.
#pragma once

#include <string_view>

#include "cdc/model/Change.h"
#include "state/journal/Journal.h"

namespace pgmorph {

class JournalTee {
 public:
  explicit JournalTee(JournalWriter& writer) : writer_(writer) {}

  // One decoded message and its raw payload, in stream order.
  void onMessage(const Change& change, Lsn dataStart, std::string_view payload);
  // The stream broke or stopped: a transaction half-written is dropped (the slot sends it again
  // from the position confirmed, which never passes an unjournaled commit).
  void abandon();
  // Inside a transaction the journal is writing (Begin seen, Commit not yet).
  bool inTransaction() const { return writing_; }

  JournalWriter& writer() { return writer_; }

 private:
  JournalWriter& writer_;
  bool writing_ = false;   // appending the current transaction
  bool skipping_ = false;  // the current transaction is already journaled
};

}  // namespace pgmorph
