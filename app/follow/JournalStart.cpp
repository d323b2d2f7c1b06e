#include "app/follow/JournalStart.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/journal/JournalApply.h"
#include "cdc/model/Errors.h"

namespace pgmorph {

JournalStart prepareJournal(FollowJournal& journal, TransactionApplier& applier,
                            const FollowOptions& options, Lsn confirmedFlush,
                            const std::string& slot, const StopFlag& stop,
                            boost::asio::io_context& io) {
  Lsn checkpoint = applier.checkpoint();
  // The journal must stay gapless; the applier skips what the checkpoint covers.
  Lsn streamFrom = checkpoint;
  if (!journal.empty() && journal.start() <= checkpoint && journal.end() > checkpoint) {
    // Gap fill: the target is behind what the journal holds (a restored target, or confirm:
    // journal while the target was behind; the slot may have confirmed past the checkpoint,
    // resolveStreamStart checked the journal covers that). Apply the journal first, with the
    // same exactly-once rule; the slot then resends only what the journal may not hold yet.
    spdlog::info("the target's checkpoint {} is behind the journal: {}; applying it first",
                 checkpoint.str(), journal.describeRange());
    JournalReader reader(journal.dir());
    JournalApply fill(reader, applier);
    std::optional<Lsn> until = options.untilLsn;
    // A fence means "commits before it": commit ends at or below fence - 1.
    if (options.fenceLsn && options.fenceLsn->value() > 0)
      until = Lsn(options.fenceLsn->value() - 1);
    // In slices of 64 MB of WAL: between them the io_context runs what it has, so a SIGINT
    // (StopSignals sets the stop flag from it) ends a long gap fill at a transaction boundary.
    constexpr std::uint64_t kSlice = 64ull << 20;
    Lsn sliceEnd = checkpoint;
    std::uint64_t transactions = 0;
    std::optional<FollowEnd> ended;
    for (;;) {
      sliceEnd = Lsn(sliceEnd.value() + kSlice);
      bool last = until && *until <= sliceEnd;
      JournalApply::Pass pass = fill.applyAvailable(last ? until : sliceEnd, stop);
      transactions += pass.transactions;
      io.restart();
      io.poll();
      if (pass.stopped || stop.requested()) {
        ended = FollowEnd::Stopped;
        break;
      }
      if (pass.reachedUntil && last) {
        ended = FollowEnd::ReachedTarget;
        break;
      }
      if (!pass.reachedUntil) break;  // the journal's end
    }
    checkpoint = applier.checkpoint();
    spdlog::info("applied {} transaction(s) from the journal; checkpoint {}", transactions,
                 checkpoint.str());
    if (ended) return {ended, checkpoint};
    streamFrom = checkpoint;
  }
  if (journal.empty()) {
    journal.startAt(checkpoint);
  } else if (journal.end() < checkpoint) {
    // The journal stopped before the target's position (journaling was off for a while): it
    // can only go on if the slot still has what follows its end.
    if (journal.end() < confirmedFlush)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("{}, but slot '{}' has confirmed {}: the transactions in between cannot "
                      "be journaled any more, and the journal would have a hole. Move the "
                      "journal directory away (a new journal then starts at the checkpoint {}).",
                      journal.describeRange(), slot, confirmedFlush.str(), checkpoint.str()));
    streamFrom = journal.end();
  }
  return {std::nullopt, streamFrom};
}

}  // namespace pgmorph
