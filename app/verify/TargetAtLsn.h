// TargetAtLsn: brings the target to exactly source position L and opens a REPEATABLE READ
// transaction on a target session that sees it there — the target half of verify's pin.
//
// "Exactly L": every source transaction that committed before L is applied, none after (the
// source snapshot of a slot created at L sees the same set). With no follower streaming the
// pipeline's slot, this object applies up to L itself (a Follower in this process, stopping
// before the first transaction that commits at or after L).
//
// Contract: pin() returns with `session` inside the open transaction; the caller ends it.
#pragma once

#include <optional>
#include <string>

#include "app/StopFlag.h"
#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"

namespace pgmorph {

struct PinnedTarget {
  Lsn checkpoint;                     // the target's checkpoint as the transaction sees it
  std::string how;                    // "applied by verify" / "follower paused"
  std::optional<double> pauseMillis;  // how long the running follower held
};

class TargetAtLsn {
 public:
  TargetAtLsn(const PipelineConfig& config, const StopFlag& stop);
  PinnedTarget pin(Lsn lsn, PgConnection& session);

 private:
  Lsn applyUpTo(Lsn lsn);

  const PipelineConfig& config_;
  const StopFlag& stop_;
};

}  // namespace pgmorph
