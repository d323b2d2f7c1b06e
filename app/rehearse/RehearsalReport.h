// RehearsalReport: what `pgmorph rehearse` measured — plain data that ReportJson, ReportMarkdown
// and ReportHtml write, and ReportCompare compares with the previous report.
//
// report.json (stable keys, in this order; the cutover report follows the same skeleton, with
// its own "kind", so one reader handles both):
//   {"kind":"rehearsal","pipeline","started_at","finished_at",
//    "phases":[{"name","started_at","finished_at","seconds","details":{...}}],
//    "tables":[{"target_table","source_tables":[..],"rows","seconds","rows_per_second"}],
//    "catch_up":{"until_lsn","changes","seconds","changes_per_second",
//                "samples":[{"t","lag_bytes","changes_per_second"}]},
//    "parked":[{"table","reason","rows"}],
//    "verify":<the verify report's JSON object (VerifyReport.h)>,
//    "cutover_window":{"seconds"|null,"definition","inputs":{...}},
//    "compared_with":{"file","started_at","phases":[{"name","previous_seconds","seconds",
//                     "change_percent","verdict"}],"verify_changed":[{"target_table",
//                     "previous","now"}]}|null}
// Times are UTC ISO 8601 with milliseconds; "t" of a sample is seconds since the catch-up began.
//
// report.md: "# <title>", a summary, then "## Phases" (PhaseReport's table), "## Tables",
// "## Catch-up", "## Verify", "## Parked rows", "## Estimated cutover window" and, when there
// was a previous report, "## Compared with the previous rehearsal".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/report/Phase.h"
#include "app/verify/VerifyResult.h"

namespace pgmorph {

struct TableCopy {
  std::string targetTable;
  std::vector<std::string> sourceTables;
  std::uint64_t rows = 0;  // rows inserted (a partial target's updates are not counted again)
  double seconds = 0;      // from the first copy task's start to the last one's end
  double rowsPerSecond() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

struct CatchUpSample {
  double t = 0;  // seconds since the catch-up began
  std::uint64_t lagBytes = 0;
  double changesPerSecond = 0;
};

struct ParkedCount {
  std::string table, reason;
  std::int64_t rows = 0;
};

// The estimated cutover window (README: Rehearsing the cutover):
//   window = writeRate × catchUpSeconds / applyRate + verifySeconds + overheadSeconds
// — once writes stop, the follower still has to drain what the source wrote during one catch-up
// cycle, then verify runs; overhead is the fixed cost of the final checks. Unknown (nullopt) when
// the apply rate does not exceed the write rate: the follower would never catch up.
struct CutoverWindow {
  std::optional<double> seconds;
  // Source row changes/s on the mapped tables during the rehearsal: pg_stat_user_tables' counts
  // (n_tup_ins + n_tup_upd + n_tup_del) from its start to the end of verify, or, when they cannot
  // be read, the catch-up's changes over the time they were written in.
  double writeRate = 0;
  std::string writeRateFrom = "pg_stat_user_tables";  // or "catch-up"
  double applyRate = 0;  // the catch-up's changes over the time it streamed (not connecting)
  double catchUpSeconds = 0;
  double verifySeconds = 0;
  double overheadSeconds = 10;
};

struct PhaseChange {
  std::string name;
  std::optional<double> previousSeconds;
  double seconds = 0;
  std::optional<double> changePercent;
  std::string verdict;  // "slower", "faster", "same", "new"
};

struct VerifyChange {
  std::string targetTable, previous, now;  // "equal", "different", "absent"
};

struct Comparison {
  std::string file;  // the previous report, as kept (report.previous.json)
  std::string startedAt;
  std::vector<PhaseChange> phases;
  std::vector<VerifyChange> verifyChanged;
};

struct RehearsalReport {
  std::string pipeline;
  Phase::Time started, finished;
  std::vector<Phase> phases;
  std::vector<TableCopy> tables;
  std::string untilLsn;  // the source position read at the end of the snapshot
  std::uint64_t changes = 0;
  double catchUpSeconds = 0;
  std::vector<CatchUpSample> samples;
  std::vector<ParkedCount> parked;
  VerifyResult verify;
  std::string verifyJson;  // verifyJson(verify), embedded as it is
  CutoverWindow window;
  std::optional<Comparison> comparedWith;

  double changesPerSecond() const {
    return catchUpSeconds > 0 ? static_cast<double>(changes) / catchUpSeconds : 0;
  }
};

// Fills window.seconds from its inputs.
void estimateWindow(CutoverWindow& window);

}  // namespace pgmorph
