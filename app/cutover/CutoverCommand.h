// CutoverCommand: `pgmorph cutover -c F`, the go / no-go gate of the day of the switch.
//
// In order, stopping at the first check that fails:
//  1. check: `pgmorph check`'s checks find no error;
//  2. source quiet (SourceQuiet): no write to a mapped table and no open write transaction
//     for --quiet-seconds, within --max-wait (optionally after setting the source database
//     read-only and terminating the open writers); then the final LSN is the source's WAL
//     insert position;
//  3. verify: VerifyCommand::verify pins its own LSN L with a temporary slot, created after the
//     final LSN was read, so L >= final LSN, and brings the target to exactly L — applying up to
//     it itself when no follower runs, or having the running follower apply up to it and hold
//     (the "applies up to it, or waits for the running follower to" of the gate). With the
//     source quiet, the mapped tables hold the same rows at the final LSN and at L. The target
//     must equal the mapped source there, and the source must still be quiet afterwards;
//  4. sequences: the target's sequences are set past what the data and the source's
//     sequences hold (SequenceAdvancer, with --sequence-margin) — the one write to the target
//     besides verify's apply, done only when everything before passed.
// Then the report (CutoverReport) is printed and, with --report DIR, written as report.md and
// report.json. The slot is never dropped; the source is changed only by --set-source-read-only
// and --terminate-writers, and the report says what was changed and how to undo it.
//
// Exit codes: 0 go; 1 no-go (a check failed, not quiet within --max-wait, verify found
// differences); 2 could not run (unreadable file, a database unreachable, nothing applied yet).
#pragma once

#include <ostream>
#include <string>

#include "app/StopFlag.h"
#include "app/cutover/CutoverOptions.h"
#include "app/cutover/CutoverReport.h"
#include "transform/Config.h"

namespace pgmorph {

class CutoverCommand {
 public:
  static int run(const std::string& path, const CutoverOptions& options, std::ostream& out);

  // The gate; throws PgmorphError/PgError when it cannot run it.
  static CutoverReport cutover(const PipelineConfig& config, const CutoverOptions& options,
                               const StopFlag& stop);
};

}  // namespace pgmorph
