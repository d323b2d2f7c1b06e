// CutoverReport: what `pgmorph cutover` decided and why — plain data, and its Markdown and JSON
// forms (the same layout as a rehearsal's report).
//
// Markdown: "# pgmorph cutover of <pipeline>: GO|NO-GO", then "## Checks" (each check passed
// or failed, with what was found), "## Phases" (a table: name, start, end, seconds), "## Final
// LSN", "## Source changes" (what cutover changed on the source and how to undo it),
// "## Sequences", "## Verify" (verify's own text report).
//
// JSON (stable; keys only ever added):
//   {"kind":"cutover","decision":"go"|"no-go","pipeline","file","started_at","finished_at",
//    "final_lsn":"X/X"|null,"verify_lsn":"X/X"|null,
//    "checks":[{"name","passed","details":[..]}],
//    "phases":[{"name","started_at","finished_at","seconds","details":{"<key>":"<text>"}}],
//    "source_changes":[..],
//    "sequences":[{"sequence","table","column","before","after","data_max","floor","floor_from"}],
//    "verify":<verify's JSON object (app/verify/VerifyReport.h)>|null}
//   Times are UTC, ISO 8601; a number that is unknown (a sequence never used, not set) is null.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/verify/VerifyResult.h"
#include "cdc/model/Lsn.h"
#include "sink/SequenceAdvancer.h"

namespace pgmorph {

struct CutoverCheck {
  std::string name;  // "check", "source quiet", "verify"
  bool passed = false;
  std::vector<std::string> details;
};

struct CutoverPhase {
  std::string name;
  std::chrono::system_clock::time_point started, finished;
  std::vector<std::pair<std::string, std::string>> details;
  double seconds() const { return std::chrono::duration<double>(finished - started).count(); }
};

struct CutoverReport {
  std::string file, pipeline;
  std::chrono::system_clock::time_point started, finished;
  std::optional<Lsn> finalLsn;   // the source's WAL insert position once it was quiet
  std::optional<Lsn> verifyLsn;  // where verify pinned both sides (>= finalLsn)
  std::vector<CutoverCheck> checks;
  std::vector<CutoverPhase> phases;
  std::vector<std::string> sourceChanges;
  std::vector<SequenceSetting> sequences;
  std::optional<VerifyResult> verify;
  // Go: every check ran and passed.
  bool go() const;

  std::string markdown() const;
  std::string json() const;
};

}  // namespace pgmorph
