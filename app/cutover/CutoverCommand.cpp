#include "app/cutover/CutoverCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "app/ConfigFile.h"
#include "app/check/CheckCommand.h"
#include "app/cutover/SourceQuiet.h"
#include "app/cutover/SourceSequences.h"
#include "app/snapshot/SnapshotPlan.h"
#include "app/verify/VerifyCommand.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

namespace {

using SystemClock = std::chrono::system_clock;

// Runs one phase, timing it into the report.
template <typename F>
void phase(CutoverReport& report, const std::string& name, F&& body) {
  CutoverPhase p;
  p.name = name;
  p.started = SystemClock::now();
  try {
    body(p);
  } catch (...) {
    p.finished = SystemClock::now();
    report.phases.push_back(std::move(p));
    throw;
  }
  p.finished = SystemClock::now();
  report.phases.push_back(std::move(p));
}

void writeReport(const std::string& dir, const CutoverReport& report) {
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream f(path);
    f << text;
    if (!f.flush())
      throw PgmorphError(ErrorClass::Operator, fmt::format("cannot write the report {}", path));
  };
  write("report.md", report.markdown());
  write("report.json", report.json());
}

CutoverCheck checkPhase(const PipelineConfig& config, CutoverReport& report) {
  CutoverCheck check{"check", false, {}};
  phase(report, "check", [&](CutoverPhase& p) {
    CheckReport found = CheckCommand::checkAll(config, CheckPurpose::Follow);
    check.passed = !found.hasErrors();
    for (const auto& f : found.findings())
      if (f.severity == Severity::Error) check.details.push_back(found.sentence(f));
    int warnings = found.count(Severity::Warning);
    check.details.push_back(
        fmt::format("{} error{}, {} warning{} (`pgmorph check -c {}` lists them)",
                    found.count(Severity::Error), found.count(Severity::Error) == 1 ? "" : "s",
                    warnings, warnings == 1 ? "" : "s", config.file));
    p.details.emplace_back("errors", std::to_string(found.count(Severity::Error)));
    p.details.emplace_back("warnings", std::to_string(warnings));
  });
  return check;
}

}  // namespace

CutoverReport CutoverCommand::cutover(const PipelineConfig& config, const CutoverOptions& options,
                                      const StopFlag& stop) {
  CutoverReport report;
  report.file = config.file;
  report.pipeline = config.pipeline;
  report.started = SystemClock::now();
  auto finish = [&]() -> CutoverReport& {
    report.finished = SystemClock::now();
    return report;
  };

  // 1. pgmorph check.
  report.checks.push_back(checkPhase(config, report));
  if (!report.checks.back().passed) return finish();

  // 2. The source is quiet; the final LSN.
  SourceQuiet quiet(config, options, stop);
  QuietResult found;
  phase(report, "source quiet", [&](CutoverPhase& p) {
    found = quiet.await();
    report.sourceChanges = found.sourceChanges;
    p.details.emplace_back("waited_seconds", fmt::format("{:.1f}", found.waitedSeconds));
    if (!found.quiet) return;
    // The insert position, not the flush position: everything written so far is before it.
    PgConnection source(config.source.conninfo, "source");
    report.finalLsn =
        Lsn::parse(source.exec("SELECT pg_current_wal_insert_lsn()::text").value(0, 0));
    p.details.emplace_back("final_lsn", report.finalLsn->str());
  });
  report.checks.push_back({"source quiet", found.quiet, found.details(options)});
  if (found.quiet) report.checks.back().details.push_back("final LSN: " + report.finalLsn->str());
  if (!found.quiet) return finish();
  spdlog::info("cutover: the source is quiet; final LSN {}", report.finalLsn->str());

  // 3. The target at (at least) the final LSN, compared with the mapped source there.
  CutoverCheck verified{"verify", false, {}};
  phase(report, "verify", [&](CutoverPhase& p) {
    VerifyOptions vo;
    vo.maxDifferences = options.maxDifferences;
    VerifyResult result = VerifyCommand::verify(config, vo, stop);
    report.verifyLsn = result.sourceLsn;
    p.details.emplace_back("verify_lsn", result.sourceLsn.str());
    p.details.emplace_back("pinned_by", result.howPinned);
    std::size_t equal = 0;
    for (const auto& t : result.tables) {
      if (t.equal()) {
        ++equal;
        continue;
      }
      verified.details.push_back(fmt::format("{}: {} missing, {} extra, {} different",
                                             t.targetTable, t.missing, t.extra, t.different));
    }
    verified.details.insert(
        verified.details.begin(),
        fmt::format("target at {} ({}; checkpoint {}): {} of {} tables equal",
                    result.sourceLsn.str(), result.howPinned, result.targetCheckpoint.str(), equal,
                    result.tables.size()));
    verified.passed = result.equal() && result.sourceLsn >= *report.finalLsn;
    report.verify = std::move(result);
    // A write after the final LSN would not be on the target when the applications switch.
    for (auto& broken : quiet.brokenSince(found)) {
      verified.passed = false;
      verified.details.push_back(std::move(broken));
    }
  });
  report.checks.push_back(std::move(verified));
  if (!report.checks.back().passed) return finish();

  // 4. The target's sequences past what the data holds.
  CutoverCheck sequences{"sequences", false, {}};
  phase(report, "sequences", [&](CutoverPhase& p) {
    PgConnection source(config.source.conninfo, "source");
    SequenceAdvancer::Floors floors = sourceSequenceFloors(config, source);
    PgConnection target(config.target.conninfo, "target");
    report.sequences = SequenceAdvancer(target, options.sequenceMargin)
                           .advance(SnapshotPlan::targetTables(config), floors);
    std::size_t set = 0;
    for (const auto& s : report.sequences) set += s.after ? 1 : 0;
    sequences.passed = true;
    sequences.details.push_back(fmt::format(
        "{} sequence{} of the mapped target tables, {} set past their data (margin {}), {} "
        "already past it",
        report.sequences.size(), report.sequences.size() == 1 ? "" : "s", set,
        options.sequenceMargin, report.sequences.size() - set));
    p.details.emplace_back("set", std::to_string(set));
  });
  report.checks.push_back(std::move(sequences));
  return finish();
}

int CutoverCommand::run(const std::string& path, const CutoverOptions& options, std::ostream& out) {
  auto fail = [&](const std::string& why) {
    out << fmt::format("pgmorph cutover of {}: could not run: {}\n", path, why);
    return 2;
  };
  if (!std::ifstream(path)) return fail(fmt::format("cannot read pipeline file '{}'", path));
  try {
    PipelineConfig config = loadConfigFile(path);
    requireSourceConninfo(config, "pgmorph cutover");
    StopFlag stop;
    CutoverReport report = cutover(config, options, stop);
    std::string md = report.markdown();
    out << md;
    if (!options.reportDir.empty()) writeReport(options.reportDir, report);
    return report.go() ? 0 : 1;
  } catch (const std::exception& e) {
    // PgConnection's messages name the database with its password masked.
    return fail(e.what());
  }
}

}  // namespace pgmorph
