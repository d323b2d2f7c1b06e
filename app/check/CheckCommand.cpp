#include "app/check/CheckCommand.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <set>

#include "app/ConfigFile.h"
#include "app/check/SlotChecks.h"
#include "app/check/SourceChecks.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

namespace {

void addPlanTables(const PipelineConfig& config, CheckReport& report) {
  for (const auto& tm : config.tables) {
    PlanSource s{tm.sourceSchema + "." + tm.sourceTable, tm.line, {}};
    for (const auto& t : tm.targets)
      s.targets.push_back({t.targetSchema + "." + t.target, t.mode == TargetMode::Update, t.line});
    report.plan().tables.push_back(std::move(s));
  }
}

}  // namespace

CheckReport CheckCommand::checkAll(const PipelineConfig& config, CheckPurpose purpose,
                                   std::vector<ShapeAcceptance>* accepted) {
  CheckReport report(config.file);
  addPlanTables(config, report);
  requireSourceConninfo(config, "pgmorph check");
  PgConnection source(config.source.conninfo, "source");
  PgConnection target(config.target.conninfo, "target");
  ColumnTypes sourceTypes = SourceChecks(config, source).run(report);
  StateSchemaInfo state = TargetChecks(config, target, purpose).run(report, sourceTypes);
  SlotChecks(config, source, target).run(report, state);
  // After the target checks: a mapped column's new type is judged by their findings.
  std::vector<ShapeAcceptance> shapes = SchemaDriftCheck(config, source, target).run(report);
  if (accepted) *accepted = std::move(shapes);
  return report;
}

int CheckCommand::run(const std::string& path, bool json, std::ostream& out) {
  auto unchecked = [&](const std::string& why) {
    if (json)
      out << CheckReport::uncheckedJson(path, why);
    else
      out << fmt::format("pgmorph check of {}: could not check: {}\n", path, why);
    return 2;
  };
  std::string text;
  try {
    text = readPipelineFile(path);  // unreadable (with the OS's reason): could not check
  } catch (const ConfigError& e) {
    return unchecked(e.what());
  }
  PipelineConfig config;
  try {
    config = parsePipelineFile(text, path);
  } catch (const ConfigError& e) {
    // The file's own problems (ConfigLoader stops at the first): a problem found, not a failure.
    CheckReport report(path);
    report.add({Severity::Error, Side::File, "", "", 0, e.what(), "fix the pipeline file"});
    out << (json ? report.json() : report.text());
    return 1;
  }
  try {
    CheckReport report = checkAll(config, CheckPurpose::Check);
    out << (json ? report.json() : report.text());
    return report.hasErrors() ? 1 : 0;
  } catch (const std::exception& e) {
    // PgConnection's messages name the database with its password masked.
    return unchecked(e.what());
  }
}

void CheckCommand::preflight(const PipelineConfig& config, CheckPurpose purpose) {
  std::vector<ShapeAcceptance> accepted;
  CheckReport report = checkAll(config, purpose, &accepted);
  std::vector<std::string> errors;
  std::set<std::string> warnedTables;
  int warnings = 0;
  for (const auto& f : report.findings()) {
    if (f.severity == Severity::Error && f.side != Side::Slot) errors.push_back(report.sentence(f));
    if (f.severity == Severity::Warning) {
      ++warnings;
      if (!f.table.empty()) warnedTables.insert(f.table);
    }
  }
  if (warnings)
    spdlog::warn("pgmorph check: {} warning{}{}; `pgmorph check -c {}` lists them with what to do",
                 warnings, warnings == 1 ? "" : "s",
                 warnedTables.empty() ? "" : fmt::format(" (on {})", fmt::join(warnedTables, ", ")),
                 config.file);
  if (errors.empty()) {
    PgConnection target(config.target.conninfo, "target");
    SchemaDriftCheck::accept(config, target, accepted);
    return;
  }
  std::string msg = fmt::format(
      "pgmorph check found {} problem{} with {}; nothing was started (`pgmorph check -c {}` "
      "shows the whole report):",
      errors.size(), errors.size() == 1 ? "" : "s", config.file, config.file);
  for (const auto& e : errors) msg += "\n  - " + e;
  throw PgmorphError(ErrorClass::Operator, msg);
}

}  // namespace pgmorph
