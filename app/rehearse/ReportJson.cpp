#include <fmt/format.h>

#include "app/rehearse/ReportWriters.h"
#include "app/report/JsonOut.h"
#include "app/report/PhaseReport.h"

namespace pgmorph {

void estimateWindow(CutoverWindow& w) {
  if (w.applyRate <= w.writeRate && w.writeRate > 0) {
    w.seconds.reset();  // the follower falls behind: no finite window
    return;
  }
  double drain = w.applyRate > 0 ? w.writeRate * w.catchUpSeconds / w.applyRate : 0;
  w.seconds = drain + w.verifySeconds + w.overheadSeconds;
}

namespace {

void comparisonJson(JsonOut& out, const std::optional<Comparison>& c) {
  if (!c) return out.null();
  out.startObject();
  out.key("file");
  out.string(c->file);
  out.key("started_at");
  out.string(c->startedAt);
  out.key("phases");
  out.startArray();
  for (const auto& p : c->phases) {
    out.startObject();
    out.key("name");
    out.string(p.name);
    out.key("previous_seconds");
    out.numberOrNull(p.previousSeconds);
    out.key("seconds");
    out.number(p.seconds);
    out.key("change_percent");
    out.numberOrNull(p.changePercent);
    out.key("verdict");
    out.string(p.verdict);
    out.endObject();
  }
  out.endArray();
  out.key("verify_changed");
  out.startArray();
  for (const auto& v : c->verifyChanged) {
    out.startObject();
    out.key("target_table");
    out.string(v.targetTable);
    out.key("previous");
    out.string(v.previous);
    out.key("now");
    out.string(v.now);
    out.endObject();
  }
  out.endArray();
  out.endObject();
}

}  // namespace

std::string reportJson(const RehearsalReport& r) {
  JsonOut out;
  out.startObject();
  out.key("kind");
  out.string("rehearsal");
  out.key("pipeline");
  out.string(r.pipeline);
  out.key("started_at");
  out.string(isoTime(r.started));
  out.key("finished_at");
  out.string(isoTime(r.finished));
  out.key("phases");
  phasesJson(out, r.phases);
  out.key("tables");
  out.startArray();
  for (const auto& t : r.tables) {
    out.startObject();
    out.key("target_table");
    out.string(t.targetTable);
    out.key("source_tables");
    out.startArray();
    for (const auto& s : t.sourceTables) out.string(s);
    out.endArray();
    out.key("rows");
    out.integer(static_cast<std::int64_t>(t.rows));
    out.key("seconds");
    out.number(t.seconds);
    out.key("rows_per_second");
    out.number(t.rowsPerSecond());
    out.endObject();
  }
  out.endArray();
  out.key("catch_up");
  out.startObject();
  out.key("until_lsn");
  out.string(r.untilLsn);
  out.key("changes");
  out.integer(static_cast<std::int64_t>(r.changes));
  out.key("seconds");
  out.number(r.catchUpSeconds);
  out.key("changes_per_second");
  out.number(r.changesPerSecond());
  out.key("samples");
  out.startArray();
  for (const auto& s : r.samples) {
    out.startObject();
    out.key("t");
    out.number(s.t);
    out.key("lag_bytes");
    out.integer(static_cast<std::int64_t>(s.lagBytes));
    out.key("changes_per_second");
    out.number(s.changesPerSecond);
    out.endObject();
  }
  out.endArray();
  out.endObject();
  out.key("parked");
  out.startArray();
  for (const auto& p : r.parked) {
    out.startObject();
    out.key("table");
    out.string(p.table);
    out.key("reason");
    out.string(p.reason);
    out.key("rows");
    out.integer(p.rows);
    out.endObject();
  }
  out.endArray();
  out.key("verify");
  out.rawObject(r.verifyJson);
  out.key("cutover_window");
  out.startObject();
  out.key("seconds");
  out.numberOrNull(r.window.seconds);
  out.key("definition");
  out.string(
      "write_rate * catch_up_seconds / apply_rate + verify_seconds + overhead_seconds: the drain "
      "of what the source writes during one catch-up once writes stop, then verify, then the "
      "final checks; null when apply_rate <= write_rate");
  out.key("inputs");
  out.startObject();
  out.key("write_rate");
  out.number(r.window.writeRate);
  out.key("write_rate_from");
  out.string(r.window.writeRateFrom);
  out.key("apply_rate");
  out.number(r.window.applyRate);
  out.key("catch_up_seconds");
  out.number(r.window.catchUpSeconds);
  out.key("verify_seconds");
  out.number(r.window.verifySeconds);
  out.key("overhead_seconds");
  out.number(r.window.overheadSeconds);
  out.endObject();
  out.endObject();
  out.key("compared_with");
  comparisonJson(out, r.comparedWith);
  out.endObject();
  return out.text();
}

}  // namespace pgmorph
