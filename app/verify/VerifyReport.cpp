#include "app/verify/VerifyReport.h"

#include <fmt/format.h>

#include "cdc/json/JsonWriter.h"

namespace pgmorph {

namespace {

std::string_view kindName(RowDifference::Kind kind) {
  switch (kind) {
    case RowDifference::Kind::Missing:
      return "missing";
    case RowDifference::Kind::Extra:
      return "extra";
    case RowDifference::Kind::Parked:
      return "parked";
    case RowDifference::Kind::Different:
      break;
  }
  return "different";
}

std::string shown(const std::optional<std::string>& v) {
  return v ? fmt::format("\"{}\"", *v) : std::string("NULL");
}

std::string sourceRow(const RowDifference& d) {
  if (d.sourceTable.empty()) return "(no source row)";
  return fmt::format("{} {}", d.sourceTable, d.legacyKey.empty() ? "?" : d.legacyKey);
}

void differenceText(std::string& out, const TableResult& t, const RowDifference& d) {
  switch (d.kind) {
    case RowDifference::Kind::Missing:
      out += fmt::format("    missing    {} -> {} {}: not on the target\n", sourceRow(d),
                         t.targetTable, d.id);
      return;
    case RowDifference::Kind::Extra: {
      out += fmt::format("    extra      {} {}: on the target, not in the source", t.targetTable,
                         d.id);
      // The target's own values say which legacy row it was, when it keeps one.
      for (const auto& c : d.columns)
        if (!t.legacyIdColumn.empty() && c.column == t.legacyIdColumn && c.actual)
          out += fmt::format(" ({} = {})", c.column, *c.actual);
      out += "\n";
      return;
    }
    case RowDifference::Kind::Parked:
      out += fmt::format("    parked     {} -> {} {}: {}\n", sourceRow(d), t.targetTable, d.id,
                         !d.onTarget   ? "not on the target; it is parked"
                         : !d.expected ? "on the target, not in the source; it is parked"
                                       : "differs; it is parked");
      return;
    case RowDifference::Kind::Different:
      out += fmt::format("    different  {} -> {} {}:\n", sourceRow(d), t.targetTable, d.id);
      for (const auto& c : d.columns)
        out += fmt::format("                 {}: expected {}, target {}\n", c.column,
                           shown(c.expected), shown(c.actual));
      return;
  }
}

}  // namespace

std::string verifyText(const VerifyResult& r) {
  std::string out = fmt::format("pgmorph verify of pipeline {} ({})\n", r.pipeline, r.file);
  out += fmt::format("  source snapshot at LSN {}; target checkpoint {} ({}", r.sourceLsn.str(),
                     r.targetCheckpoint.str(), r.howPinned);
  if (r.pauseMillis) out += fmt::format(" for {:.0f} ms", *r.pauseMillis);
  out += ")\n\n";
  std::size_t equal = 0;
  for (const auto& t : r.tables) {
    if (t.equal()) ++equal;
    std::string state = "equal";
    if (!t.equal())
      state = fmt::format("DIFFERENT: {} missing, {} extra, {} different", t.missing, t.extra,
                          t.different);
    out += fmt::format("  {:<32} expected {:>9}  target {:>9}  {}{}  {:.2f} s\n", t.targetTable,
                       t.expectedRows, t.targetRows, state,
                       t.parked ? fmt::format(" ({} parked)", t.parked) : std::string(), t.seconds);
    if (t.unconvertible)
      out += fmt::format(
          "    {} source rows cannot be converted by the mapping (parked by follow, if "
          "on_error: park), e.g. {}\n",
          t.unconvertible, t.unconvertibleSamples.empty() ? "" : t.unconvertibleSamples.front());
    if (t.setWithoutRow)
      out += fmt::format("    {} partial-target values name a row that is not expected\n",
                         t.setWithoutRow);
    for (const auto& d : t.differences) differenceText(out, t, d);
    std::uint64_t more = t.differenceCount() - t.differences.size();
    if (more)
      out += fmt::format("    ... and {} more (--max-differences {})\n", more, r.maxDifferences);
  }
  out += fmt::format("\n{} of {} tables equal; {} in {:.1f} s\n", equal, r.tables.size(),
                     r.equal() ? "the target matches the source" : "THE TARGET DIFFERS", r.seconds);
  return out;
}

std::string verifyJson(const VerifyResult& r) {
  JsonWriter w;
  w.startObject();
  w.key("file");
  w.string(r.file);
  w.key("pipeline");
  w.string(r.pipeline);
  w.key("source_lsn");
  w.string(r.sourceLsn.str());
  w.key("target_checkpoint");
  w.string(r.targetCheckpoint.str());
  w.key("pinned_by");
  w.string(r.howPinned);
  w.key("pause_ms");
  if (r.pauseMillis)
    w.real(*r.pauseMillis);
  else
    w.null();
  w.key("equal");
  w.boolean(r.equal());
  w.key("seconds");
  w.real(r.seconds);
  w.key("max_differences");
  w.unsignedInteger(r.maxDifferences);
  w.key("tables");
  w.startArray();
  for (const auto& t : r.tables) {
    w.startObject();
    w.key("target_table");
    w.string(t.targetTable);
    w.key("source_tables");
    w.startArray();
    for (const auto& s : t.sourceTables) w.string(s);
    w.endArray();
    w.key("columns");
    w.startArray();
    for (const auto& c : t.columns) w.string(c);
    w.endArray();
    w.key("equal");
    w.boolean(t.equal());
    for (auto [k, v] : {std::pair<const char*, std::uint64_t>{"expected_rows", t.expectedRows},
                        {"target_rows", t.targetRows},
                        {"missing", t.missing},
                        {"extra", t.extra},
                        {"different", t.different},
                        {"parked", t.parked},
                        {"unconvertible", t.unconvertible}}) {
      w.key(k);
      w.unsignedInteger(v);
    }
    w.key("unconvertible_samples");
    w.startArray();
    for (const auto& s : t.unconvertibleSamples) w.string(s);
    w.endArray();
    w.key("set_without_row");
    w.unsignedInteger(t.setWithoutRow);
    w.key("seconds");
    w.real(t.seconds);
    w.key("differences_shown");
    w.unsignedInteger(t.differences.size());
    w.key("differences");
    w.startArray();
    for (const auto& d : t.differences) {
      w.startObject();
      w.key("kind");
      w.string(kindName(d.kind));
      w.key("source_table");
      w.stringOrNull(d.sourceTable.empty() ? std::nullopt : std::optional(d.sourceTable));
      w.key("legacy_key");
      w.stringOrNull(d.legacyKey.empty() ? std::nullopt : std::optional(d.legacyKey));
      w.key("target_table");
      w.string(t.targetTable);
      w.key("id");
      w.string(d.id);
      w.key("on_target");
      w.boolean(d.onTarget);
      w.key("expected");
      w.boolean(d.expected);
      w.key("columns");
      w.startArray();
      for (const auto& c : d.columns) {
        w.startObject();
        w.key("column");
        w.string(c.column);
        w.key("expected");
        w.stringOrNull(c.expected);
        w.key("actual");
        w.stringOrNull(c.actual);
        w.endObject();
      }
      w.endArray();
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.endObject();
  return w.text() + "\n";
}

std::string verifyErrorJson(const std::string& file, const std::string& error) {
  JsonWriter w;
  w.startObject();
  w.key("file");
  w.string(file);
  w.key("error");
  w.string(error);
  w.endObject();
  return w.text() + "\n";
}

}  // namespace pgmorph
