#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/rehearse/ReportWriters.h"
#include "app/report/HtmlCharts.h"

namespace pgmorph {

namespace {

std::string phaseTable(const RehearsalReport& r) {
  std::string out = "<table><tr><th>phase</th><th>started</th><th>duration</th></tr>";
  for (const auto& p : r.phases)
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>", htmlEscape(p.name),
                       isoTime(p.started), humanSeconds(p.seconds()));
  return out + "</table>";
}

std::string verifySection(const RehearsalReport& r) {
  std::string out = fmt::format("<p>At source LSN {}: <span class=\"{}\">{}</span></p>",
                                r.verify.sourceLsn.str(), r.verify.equal() ? "ok" : "bad",
                                r.verify.equal() ? "every table equal" : "differences found");
  out += "<table><tr><th>target table</th><th>expected</th><th>target</th><th>result</th></tr>";
  for (const auto& t : r.verify.tables)
    out += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
        "class=\"{}\">{}</td></tr>",
        htmlEscape(t.targetTable), t.expectedRows, t.targetRows, t.equal() ? "ok" : "bad",
        t.equal()
            ? "equal"
            : fmt::format("{} missing, {} extra, {} different", t.missing, t.extra, t.different));
  return out + "</table>";
}

std::string comparisonSection(const Comparison& c) {
  std::string out = fmt::format("<h2>Compared with the previous rehearsal</h2><p>{} ({})</p>",
                                htmlEscape(c.startedAt), htmlEscape(c.file));
  out += "<table><tr><th>phase</th><th>before</th><th>now</th><th>change</th><th></th></tr>";
  for (const auto& p : c.phases)
    out += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"{}\">{}</td></tr>",
        htmlEscape(p.name), p.previousSeconds ? humanSeconds(*p.previousSeconds) : "-",
        humanSeconds(p.seconds), p.changePercent ? fmt::format("{:+.0f} %", *p.changePercent) : "-",
        p.verdict == "slower"   ? "bad"
        : p.verdict == "faster" ? "ok"
                                : "",
        p.verdict);
  out += "</table>";
  if (c.verifyChanged.empty()) return out + "<p>No table's verify result changed.</p>";
  out += "<table><tr><th>table</th><th>verify before</th><th>verify now</th></tr>";
  for (const auto& v : c.verifyChanged)
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", htmlEscape(v.targetTable),
                       v.previous, v.now);
  return out + "</table>";
}

}  // namespace

std::string reportHtml(const RehearsalReport& r) {
  double total = std::chrono::duration<double>(r.finished - r.started).count();
  std::string body = fmt::format(
      "<p>Started {} — {} in all. Verify: <span class=\"{}\">{}</span>. Estimated cutover "
      "window: <b>{}</b>.</p>",
      isoTime(r.started), humanSeconds(total), r.verify.equal() ? "ok" : "bad",
      r.verify.equal() ? "equal" : "DIFFERENT",
      r.window.seconds ? humanSeconds(*r.window.seconds) : "unknown (apply slower than writes)");
  body += "<h2>Where the time goes: phases</h2>" + svgTimeline(r.phases) + phaseTable(r);
  std::vector<std::pair<std::string, double>> bars;
  for (const auto& t : r.tables) bars.emplace_back(t.targetTable, t.seconds);
  body += "<h2>Copy time per table</h2>" + svgBars(bars, "s");
  body += "<table><tr><th>target table</th><th>rows</th><th>rows/s</th></tr>";
  for (const auto& t : r.tables)
    body += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.0f}</td></tr>",
                        htmlEscape(t.targetTable), t.rows, t.rowsPerSecond());
  body += "</table>";
  std::vector<std::pair<double, double>> lag, rate;
  for (const auto& s : r.samples) {
    lag.emplace_back(s.t, static_cast<double>(s.lagBytes));
    rate.emplace_back(s.t, s.changesPerSecond);
  }
  body += fmt::format(
      "<h2>Catch-up: lag and throughput</h2><p>{} changes in {} ({:.0f} changes/s), until source "
      "LSN {}.</p>",
      r.changes, humanSeconds(r.catchUpSeconds), r.changesPerSecond(), r.untilLsn);
  body += svgLine(lag, "seconds into the catch-up", "lag (bytes of WAL)", "#e15759");
  body += svgLine(rate, "seconds into the catch-up", "changes applied per second", "#4e79a7");
  body += "<h2>Verify</h2>" + verifySection(r);
  body += "<h2>Parked rows</h2>";
  if (r.parked.empty())
    body += "<p>None.</p>";
  else {
    body += "<table><tr><th>table</th><th>reason</th><th>rows</th></tr>";
    for (const auto& p : r.parked)
      body += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                          htmlEscape(p.table), htmlEscape(p.reason), p.rows);
    body += "</table>";
  }
  const auto& w = r.window;
  body += fmt::format(
      "<h2>Estimated cutover window</h2><p>window = write rate × catch-up / apply rate + verify + "
      "overhead = {:.1f} × {:.1f} s / {:.1f} + {:.1f} s + {:.0f} s = <b>{}</b></p>",
      w.writeRate, w.catchUpSeconds, w.applyRate, w.verifySeconds, w.overheadSeconds,
      w.seconds ? humanSeconds(*w.seconds) : "unknown");
  if (r.comparedWith) body += comparisonSection(*r.comparedWith);
  return htmlPage("Cutover rehearsal of pipeline " + r.pipeline, body);
}

}  // namespace pgmorph
