// StreamStart: where a follow session starts streaming, decided from the slot and the target's
// checkpoint (and the journal, when one is configured); or a refusal that says why it cannot
// start. Creates the slot when there is neither a slot nor a checkpoint.
//
// The slot cannot deliver what it has confirmed. When its confirmed position is past the
// checkpoint (a target restored from a backup, or confirm: journal while the target was behind),
// the changes in between are only in the journal: streaming may start only if the journal holds
// every transaction committing after the checkpoint up to the slot's confirmed position; else
// the changes were lost and the session refuses to start, naming the range the journal covers.
#pragma once

#include <optional>

#include "app/follow/FollowJournal.h"
#include "state/CheckpointStore.h"
#include "transform/Config.h"

namespace pgmorph {

struct StreamStart {
  Lsn start;           // the checkpoint, or where a new (or unused) slot starts
  Lsn confirmedFlush;  // the slot's confirmed_flush_lsn (its consistent point when just created)
};

// With config.journal, what the journal holds is read after the slot's position (the journal
// only grows, and the slot is never confirmed past its durable end: read in this order, a live
// writer cannot make a covered gap look uncovered).
StreamStart resolveStreamStart(const PipelineConfig& config, const std::optional<Checkpoint>& cp);

}  // namespace pgmorph
