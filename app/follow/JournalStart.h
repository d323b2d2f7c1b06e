// JournalStart: what a follow session with a journal does before it streams. When the target's
// checkpoint is behind what the journal holds (a restored target; confirm: journal while the
// target was behind), it applies the journal's transactions after the checkpoint through the
// session's TransactionApplier (gap fill: same mapping and exactly-once rule), in slices between
// which the io_context runs so that SIGINT/SIGTERM stop it at a transaction boundary. Then it
// decides where the stream starts so that the journal stays gapless: an empty journal starts at
// the checkpoint; a journal that ends before the checkpoint continues from its end if the slot
// still has what follows it, and otherwise the session refuses (the journal would have a hole).
#pragma once

#include <boost/asio/io_context.hpp>

#include <optional>
#include <string>

#include "app/StopFlag.h"
#include "app/follow/FollowJournal.h"
#include "app/follow/FollowOptions.h"
#include "app/follow/TransactionApplier.h"

namespace pgmorph {

struct JournalStart {
  std::optional<FollowEnd> ended;  // the gap fill reached the session's goal, or was stopped
  Lsn streamFrom;                  // else: where the stream starts
};

// `confirmedFlush`: the slot's confirmed position (StreamStart).
JournalStart prepareJournal(FollowJournal& journal, TransactionApplier& applier,
                            const FollowOptions& options, Lsn confirmedFlush,
                            const std::string& slot, const StopFlag& stop,
                            boost::asio::io_context& io);

}  // namespace pgmorph
