// VerifyCommand: `pgmorph verify -c F [--tables T,...] [--json] [--max-differences N]`.
//
// Compares every mapped target table with what the mapping makes of the source, both sides
// pinned to one source position L while changes may keep flowing:
//  1. a temporary logical slot is created with an exported snapshot: its consistent point is L,
//     and the snapshot sees the source exactly as of L (the snapshot's own mechanism);
//  2. the target is brought to exactly L (TargetAtLsn: the running follower holds at L for the
//     moment verify takes a target snapshot, or, with no follower, verify applies up to L
//     itself), and a REPEATABLE READ transaction on the target sees it there;
//  3. per target table, ExpectedRows builds the expected rows from the source snapshot in a
//     temporary table of that target transaction, and TableComparer compares.
// The temporary slot ends with the command; nothing is written to the target except what
// the apply to L writes (which follow would have written anyway).
//
// Exit codes: 0 every table equal (parked rows do not count), 1 some table differs, 2 could not
// verify (unreadable file, a database unreachable, nothing applied yet, a snapshot running).
#pragma once

#include <ostream>
#include <string>

#include "app/StopFlag.h"
#include "app/verify/VerifyOptions.h"
#include "app/verify/VerifyResult.h"
#include "transform/Config.h"

namespace pgmorph {

class VerifyCommand {
 public:
  static int run(const std::string& path, const VerifyOptions& options, std::ostream& out);

  // Throws PgmorphError/PgError when it cannot verify.
  static VerifyResult verify(const PipelineConfig& config, const VerifyOptions& options,
                             const StopFlag& stop);
};

}  // namespace pgmorph
