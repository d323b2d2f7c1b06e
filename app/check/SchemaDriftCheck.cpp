#include "app/check/SchemaDriftCheck.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "app/check/CatalogColumns.h"
#include "state/SourceShapeStore.h"
#include "transform/SchemaDrift.h"

namespace pgmorph {

namespace {

// A mapped retype is accepted when the target columns take the new type: the target checks
// (run before, on the catalogs as they are now) found no error on a target column it feeds.
bool targetTakesIt(const CheckReport& report, const TableMapping& tm, const std::string& column) {
  for (const auto& t : tm.targets) {
    std::string name = t.targetSchema + "." + t.target;
    std::vector<std::string> fed;
    for (const auto& c : t.columns)
      if (c.source == column) fed.push_back(c.target);
    if (t.legacyIdColumn && t.keyColumns.size() == 1 && t.keyColumns[0] == column)
      fed.push_back(*t.legacyIdColumn);
    for (const auto& f : report.findings())
      if (f.severity == Severity::Error && f.side == Side::Target && f.table == name &&
          std::find(fed.begin(), fed.end(), f.column) != fed.end())
        return false;
  }
  return true;
}

}  // namespace

std::map<std::string, TableShape> readSourceShapes(PgConnection& source,
                                                   const std::vector<std::string>& tables) {
  // format_type() with the typmod is what wal2json sends as a column's type (include-types,
  // include-typmod); attstorage 'p' columns are never TOASTed, so always in an update.
  auto res = source.execParams(
      "SELECT n.nspname || '.' || c.relname,"
      "       string_agg(a.attname, chr(31) ORDER BY a.attnum),"
      "       string_agg(format_type(a.atttypid, a.atttypmod), chr(31) ORDER BY a.attnum),"
      "       string_agg(CASE WHEN a.attstorage = 'p' THEN 'f' ELSE 't' END, '' ORDER BY a.attnum)"
      "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      "  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
      " WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')"
      " GROUP BY 1",
      {textArray(tables)});
  std::map<std::string, TableShape> out;
  for (int r = 0; r < res.rows(); ++r)
    out[std::string(res.value(r, 0))] =
        SourceShapeStore::decode(res.value(r, 1), res.value(r, 2), res.value(r, 3));
  return out;
}

SchemaDriftCheck::SchemaDriftCheck(const PipelineConfig& config, PgConnection& source,
                                   PgConnection& target)
    : config_(config), source_(source), target_(target) {}

std::vector<ShapeAcceptance> SchemaDriftCheck::run(CheckReport& report) {
  std::vector<std::string> names;
  for (const auto& tm : config_.tables) names.push_back(tm.sourceSchema + "." + tm.sourceTable);
  std::map<std::string, TableShape> now = readSourceShapes(source_, names);
  std::map<std::string, AcceptedShape> stored =
      SourceShapeStore(config_.target.stateSchema, config_.pipeline).load(target_);
  std::vector<ShapeAcceptance> out;
  for (const auto& tm : config_.tables) {
    std::string name = tm.sourceSchema + "." + tm.sourceTable;
    auto current = now.find(name);
    if (current == now.end()) continue;  // SourceChecks reports a missing table
    auto accepted = stored.find(name);
    if (accepted == stored.end()) {
      out.push_back({&tm, current->second, std::nullopt, ""});
      continue;
    }
    if (accepted->second.shape == current->second) continue;
    std::vector<Drift> drifts = SchemaDrift::ofShapes(accepted->second.shape, current->second, tm);
    for (auto& d : drifts)
      if (d.kind == DriftKind::Retyped && d.mapped)
        d.compatible = targetTakesIt(report, tm, d.column);
    bool all = SchemaDrift::decide(drifts, config_.onSchemaChange, SchemaDrift::Moment::Start);
    std::vector<std::string> what;
    for (const auto& d : drifts) {
      what.push_back(SchemaDrift::describe(d));
      if (d.accepted)
        report.add({Severity::Info, Side::Source, name, d.column, SchemaDrift::lineOf(d, tm),
                    fmt::format("schema change since pgmorph last accepted this table: {}; the "
                                "next start accepts it (on_schema_change: {})",
                                SchemaDrift::describe(d), toString(config_.onSchemaChange)),
                    ""});
      else
        report.add({Severity::Error, Side::Source, name, d.column, SchemaDrift::lineOf(d, tm),
                    fmt::format("schema change since pgmorph last accepted this table: {}; "
                                "following stops on it (on_schema_change: {})",
                                SchemaDrift::describe(d), toString(config_.onSchemaChange)),
                    SchemaDrift::action(d, config_, tm)});
    }
    // Only whole tables are accepted: a table with a refused drift keeps its old shape.
    if (all)
      out.push_back(
          {&tm, current->second, accepted->second.shape, fmt::format("{}", fmt::join(what, "; "))});
  }
  return out;
}

void SchemaDriftCheck::accept(const PipelineConfig& config, PgConnection& target,
                              const std::vector<ShapeAcceptance>& accepted) {
  if (accepted.empty()) return;
  SourceShapeStore store(config.target.stateSchema, config.pipeline);
  store.ensureSchema(target);
  target.exec("BEGIN");
  for (const auto& a : accepted)
    store.save(target, a.table->sourceSchema, a.table->sourceTable, a.shape, a.previous);
  target.exec("COMMIT");
  for (const auto& a : accepted)
    if (a.previous)
      spdlog::info(
          "source table {}.{}: accepted its new columns ({}); changes made before the "
          "change are still accepted in the old shape",
          a.table->sourceSchema, a.table->sourceTable, a.summary);
}

}  // namespace pgmorph
