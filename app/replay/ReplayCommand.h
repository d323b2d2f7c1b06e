// ReplayCommand: `pgmorph replay -c F --from-lsn X [--until-lsn Y] [--force]`. Applies the
// journal's transactions that commit after X onto the target, through the same
// TransactionApplier as follow (same mapping, parking and exactly-once rule: the checkpoint moves
// with the writes), up to Y; without Y to the journal's end and then on to live following as
// `pgmorph follow` does (FollowCommand). For a target restored from a backup taken at X, or an
// emptied target to be rebuilt with a corrected mapping.
//
// The target must be at X: its checkpoint row says so, or it has none (a restored target without
// pgmorph's state, an emptied target: taken to be at X, and the row is created there). It refuses,
// as an operator error (exit 2), when no journal is configured, when the journal does not hold
// every transaction committing after X (naming the range it holds), and when the checkpoint is
// elsewhere than X — unless --force, which moves the checkpoint to X and says what that means.
#pragma once

#include <optional>

#include "cdc/model/Lsn.h"
#include "transform/Config.h"

namespace pgmorph {

struct ReplayOptions {
  Lsn from;
  std::optional<Lsn> until;
  bool force = false;
};

class ReplayCommand {
 public:
  // Throws PgmorphError (ErrorClass::Operator) for the refusals; returns the exit code.
  static int run(const PipelineConfig& config, const ReplayOptions& options);
};

}  // namespace pgmorph
