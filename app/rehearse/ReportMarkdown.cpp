#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/rehearse/ReportWriters.h"
#include "app/report/PhaseReport.h"
#include "app/verify/VerifyReport.h"

namespace pgmorph {

namespace {

std::string windowText(const CutoverWindow& w) {
  std::string out = w.seconds
                        ? fmt::format("**{}**\n\n", humanSeconds(*w.seconds))
                        : "**unknown: the apply rate does not exceed the source's write rate**\n\n";
  out +=
      "From \"writes stop\" to \"caught up and verified\": the follower drains what the source "
      "wrote during one catch-up, then verify runs, then the final checks.\n\n"
      "window = write rate × catch-up seconds / apply rate + verify seconds + overhead\n\n";
  out += fmt::format(
      "| input | value |\n|---|---:|\n| source write rate (changes/s, from {}) | {:.1f} |\n"
      "| apply rate (changes/s) | {:.1f} |\n| catch-up (s) | {:.1f} |\n| verify (s) | {:.1f} |\n"
      "| overhead (s) | {:.0f} |\n",
      w.writeRateFrom, w.writeRate, w.applyRate, w.catchUpSeconds, w.verifySeconds, w.overheadSeconds);
  return out;
}

}  // namespace

std::string reportMarkdown(const RehearsalReport& r) {
  std::string out = fmt::format("# Cutover rehearsal of pipeline {}\n\n", r.pipeline);
  out += fmt::format("Started {}, finished {} ({}). Verify: **{}**.\n\n", isoTime(r.started),
                     isoTime(r.finished),
                     humanSeconds(std::chrono::duration<double>(r.finished - r.started).count()),
                     r.verify.equal() ? "equal" : "DIFFERENT");
  out += "## Phases\n\n" + phasesMarkdown(r.phases) + "\n";
  out +=
      "## Tables\n\n| target table | source tables | rows | seconds | rows/s |\n"
      "|---|---|---:|---:|---:|\n";
  for (const auto& t : r.tables)
    out += fmt::format("| {} | {} | {} | {:.2f} | {:.0f} |\n", t.targetTable,
                       fmt::join(t.sourceTables, ", "), t.rows, t.seconds, t.rowsPerSecond());
  out += fmt::format(
      "\n## Catch-up\n\nUntil the source position {} read at the end of the snapshot: {} changes "
      "in {:.1f} s ({:.0f} changes/s), {} samples of lag and throughput.\n\n",
      r.untilLsn, r.changes, r.catchUpSeconds, r.changesPerSecond(), r.samples.size());
  out += "## Verify\n\n```\n" + verifyText(r.verify) + "```\n\n";
  out += "## Parked rows\n\n";
  if (r.parked.empty())
    out += "None.\n";
  else {
    out += "| table | reason | rows |\n|---|---|---:|\n";
    for (const auto& p : r.parked)
      out += fmt::format("| {} | {} | {} |\n", p.table, p.reason, p.rows);
  }
  out += "\n## Estimated cutover window\n\n" + windowText(r.window);
  if (r.comparedWith) {
    const auto& c = *r.comparedWith;
    out += fmt::format("\n## Compared with the previous rehearsal\n\nThe rehearsal of {} ({}).\n\n",
                       c.startedAt, c.file);
    out += "| phase | before (s) | now (s) | change | verdict |\n|---|---:|---:|---:|---|\n";
    for (const auto& p : c.phases)
      out += fmt::format(
          "| {} | {} | {:.2f} | {} | {} |\n", p.name,
          p.previousSeconds ? fmt::format("{:.2f}", *p.previousSeconds) : "-", p.seconds,
          p.changePercent ? fmt::format("{:+.0f} %", *p.changePercent) : "-", p.verdict);
    if (c.verifyChanged.empty())
      out += "\nNo table's verify result changed.\n";
    else {
      out += "\n| table | verify before | verify now |\n|---|---|---|\n";
      for (const auto& v : c.verifyChanged)
        out += fmt::format("| {} | {} | {} |\n", v.targetTable, v.previous, v.now);
    }
  }
  return out;
}

}  // namespace pgmorph
