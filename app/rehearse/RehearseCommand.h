// RehearseCommand: `pgmorph rehearse -c F --report DIR [--reset] [--jobs N]` — a timed dress
// rehearsal of the cutover on a scratch target (ScratchTarget: refused when the pipeline already
// holds anything there, unless --reset empties it first):
//  1. the snapshot (SnapshotCommand, timed through SnapshotObserver): slot creation with an
//     exported snapshot, each table's copy, the bulk load's index rebuild and FK validation;
//  2. the source's WAL insert position L, read the moment the snapshot is done;
//  3. the catch-up: follow until the checkpoint reaches L (FollowOptions::untilLsn), sampling
//     lag and throughput every second (FollowOptions::onSample);
//  4. verify (VerifyCommand::verify), pinned at the source's position when it starts — with no
//     writer on the source, L itself;
//  5. the report in DIR: report.json, report.md, report.html (RehearsalReport.h), compared with
//     the report.json found there, which is kept as report.previous.json.
// Ids come from uuid_v5 of the legacy keys (invariant 9): a rehearsal repeated on the same source
// gives the same ids and, on the same data, the same verify result.
//
// Exit codes: 0 rehearsed and verify found every table equal; 1 rehearsed, verify found
// differences; 2 could not rehearse (not a scratch target without --reset, a database
// unreachable, the snapshot or the catch-up needing an operator, the report not writable).
#pragma once

#include <string>

namespace pgmorph {

struct RehearseOptions {
  std::string reportDir;
  bool reset = false;  // empty what the pipeline holds on the target (and its slot) first
  int jobs = 4;        // snapshot workers and verify's tables at once
};

class RehearseCommand {
 public:
  static int run(const std::string& configPath, const RehearseOptions& options);
};

}  // namespace pgmorph
