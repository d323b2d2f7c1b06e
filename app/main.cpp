// pgmorph: the command line. Parses arguments, loads the pipeline file, sets up logging,
// and hands over to CheckCommand (check), StatusCommand (status), FollowCommand (follow),
// ReplayCommand (replay), SnapshotCommand (snapshot, run), JournalCommand (journal) or ParkedCli
// (parked ...). follow, snapshot, run and journal decide about their own errors (RetryLoop); check
// has exit codes of its own (0 nothing blocks, 1 problems found, 2 could not check), and so has
// status (0 both databases answered, 2 not).
//
// Exit codes, for every command (README: Exit codes): 0 success, including a stop requested with
// SIGINT/SIGTERM that ended cleanly, --help and --version; 1 problems found (check); 2 needs a
// person: a usage error (CLI11's message; an unknown command is named, with the list), an
// unreadable or invalid pipeline file, an error that retrying cannot fix (authentication, a lost
// slot, drift, a `fail` policy).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "app/ConfigFile.h"
#include "app/ParkedCli.h"
#include "app/check/CheckCommand.h"
#include "app/cutover/CutoverCommand.h"
#include "app/follow/FollowCommand.h"
#include "app/journal/JournalCommand.h"
#include "app/metrics/MetricsEndpoint.h"
#include "app/rehearse/RehearseCommand.h"
#include "app/replay/ReplayCommand.h"
#include "app/snapshot/SnapshotCommand.h"
#include "app/status/StatusCommand.h"
#include "app/verify/VerifyCommand.h"

namespace {

void setupLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("pgmorph");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [%^%l%$] %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

// "pgmorph 0.1.0 (git 1a2b3c4d5e6f)": the project's version and the commit the build was
// configured at (app/CMakeLists.txt; none for a build outside a git checkout).
std::string versionLine() {
  std::string commit = PGMORPH_GIT_COMMIT;
  return std::string("pgmorph ") + PGMORPH_VERSION +
         (commit.empty() ? "" : " (git " + commit + ")");
}

// `pgmorph frobnicate`: CLI11 says "A subcommand is required" (or that the word was not
// expected); say what happened instead, with the commands there are. True when it printed.
bool reportUnknownCommand(CLI::App& app) {
  if (!app.get_subcommands().empty()) return false;
  std::vector<std::string> rest = app.remaining();
  if (rest.empty() || rest.front().empty() || rest.front()[0] == '-') return false;
  std::string commands;
  for (const CLI::App* cmd : app.get_subcommands([](const CLI::App*) { return true; }))
    commands += (commands.empty() ? "" : ", ") + cmd->get_name();
  std::cerr << "pgmorph: unknown command '" << rest.front() << "'; the commands are: " << commands
            << "\nRun with --help for more information.\n";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "pgmorph: change-data-capture from a legacy PostgreSQL into a remapped, UUID-keyed "
      "PostgreSQL schema"};
  app.require_subcommand(1);
  std::string configPath;
  std::string logLevel = "info";
  // Declared once, here: every subcommand (created after this) lets options it does not
  // know fall through to the command line's, so `pgmorph follow -c F --log-level debug` works.
  app.fallthrough();
  app.set_version_flag("--version", versionLine(), "print pgmorph's version and exit");
  app.add_option("--log-level", logLevel, "debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  auto* check = app.add_subcommand(
      "check",
      "check the pipeline file against both databases' catalogs and print every problem, then "
      "the plan (exit 0 nothing blocks, 1 problems found, 2 could not check)");
  check->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  bool checkJson = false;
  check->add_flag("--json", checkJson, "print the report as JSON");

  auto* status = app.add_subcommand(
      "status",
      "show the checkpoint, the lag, the slot, parked rows and snapshot progress, whether or not "
      "pgmorph runs (exit 0, or 2 when a database cannot be reached)");
  status->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  bool statusJson = false;
  status->add_flag("--json", statusJson, "print the report as JSON");

  auto* verify = app.add_subcommand(
      "verify",
      "compare every mapped target table with the mapped source, both pinned to one source LSN, "
      "and name what differs (exit 0 equal, 1 different, 2 could not verify)");
  verify->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  pgmorph::VerifyOptions verifyOptions;
  verify
      ->add_option("--tables", verifyOptions.tables,
                   "compare only these target tables (comma-separated; \"orders\" or "
                   "\"public.orders\")")
      ->delimiter(',');
  verify->add_flag("--json", verifyOptions.json, "print the report as JSON");
  verify->add_option("--max-differences", verifyOptions.maxDifferences,
                     "differences listed per table (the counts are always complete)");
  verify
      ->add_option("--jobs", verifyOptions.jobs,
                   "tables compared at once (a source and a target session each)")
      ->check(CLI::Range(1, 64));

  // cutover: the go / no-go gate of the day of the switch.
  auto* cutover = app.add_subcommand(
      "cutover",
      "the go / no-go gate: check, wait for the source to be quiet, take the final LSN, verify "
      "the target at it, set the target's sequences; a report (exit 0 go, 1 no-go, 2 could not "
      "run)");
  cutover->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  pgmorph::CutoverOptions cutoverOptions;
  cutover
      ->add_option("--quiet-seconds", cutoverOptions.quietSeconds,
                   "seconds without a write to a mapped table or an open write transaction")
      ->check(CLI::NonNegativeNumber);
  cutover
      ->add_option("--max-wait", cutoverOptions.maxWaitSeconds,
                   "seconds to wait for the source to be quiet before the answer is no-go")
      ->check(CLI::NonNegativeNumber);
  cutover->add_flag("--set-source-read-only", cutoverOptions.setSourceReadOnly,
                    "ALTER DATABASE <source> SET default_transaction_read_only = on first (new "
                    "sessions; undo with ALTER DATABASE ... RESET default_transaction_read_only)");
  cutover->add_flag("--terminate-writers", cutoverOptions.terminateWriters,
                    "terminate source sessions holding a write transaction open instead of "
                    "waiting for them");
  cutover->add_option("--report", cutoverOptions.reportDir,
                      "write report.md and report.json into this directory");
  cutover
      ->add_option("--sequence-margin", cutoverOptions.sequenceMargin,
                   "how far past the data the target's sequences are set")
      ->check(CLI::NonNegativeNumber);
  cutover->add_option("--max-differences", cutoverOptions.maxDifferences,
                      "differences listed per table in the verify section");

  auto* follow = app.add_subcommand(
      "follow", "stream changes from the slot into the target, from the stored checkpoint on");
  follow->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  bool untilCaughtUp = false;
  std::string untilLsn;
  int progressSeconds = 5;
  follow->add_flag("--until-caught-up", untilCaughtUp,
                   "stop once the source's WAL position at start has been applied");
  follow->add_option("--until-lsn", untilLsn, "stop once this source LSN has been applied");
  follow->add_option("--progress-interval", progressSeconds, "seconds between progress lines")
      ->check(CLI::PositiveNumber);
  std::string metricsAddress;
  auto addMetricsOption = [&](CLI::App* cmd) {
    cmd->add_option(
        "--metrics-address", metricsAddress,
        "serve /metrics and /healthz over HTTP on HOST:PORT (overrides metrics.listen)");
  };
  addMetricsOption(follow);

  // replay: the journal's transactions after an LSN onto the target (restored, or remapped).
  auto* replay = app.add_subcommand(
      "replay",
      "apply the journal's transactions committing after --from-lsn onto the target (a target "
      "restored from a backup, or emptied for a corrected mapping), then follow");
  replay->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  std::string replayFrom, replayUntil;
  bool replayForce = false;
  replay->add_option("--from-lsn", replayFrom, "the source LSN the target is at")->required();
  replay->add_option("--until-lsn", replayUntil,
                     "stop once this source LSN has been applied (default: follow on)");
  replay->add_flag("--force", replayForce,
                   "move the target's checkpoint to --from-lsn when it is elsewhere (past it: "
                   "re-apply; before it: skip the changes in between)");

  // snapshot / run: the initial copy (and, for run, follow after it).
  pgmorph::SnapshotOptions snapshotOptions;
  int snapshotProgressSeconds = 5;
  auto addSnapshotOptions = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
    cmd->add_option("--jobs", snapshotOptions.jobs,
                    "copy workers (connections to each side) for the snapshot")
        ->check(CLI::Range(1, 64));
    cmd->add_option("--split-rows", snapshotOptions.splitRows,
                    "copy tables with more rows than this in key ranges, in parallel")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--progress-interval", snapshotProgressSeconds,
                    "seconds between progress lines (when not on a terminal)")
        ->check(CLI::PositiveNumber);
  };
  auto* snapshot = app.add_subcommand(
      "snapshot",
      "create the slot with an exported snapshot and copy every mapped table into the target "
      "(parents first, independent tables in parallel); resumable");
  addSnapshotOptions(snapshot);
  snapshot->add_flag("--recreate-slot", snapshotOptions.recreateSlot,
                     "the slot exists without a finished snapshot: drop and re-create it");
  auto* run = app.add_subcommand("run", "snapshot if none was taken yet, then follow");
  addSnapshotOptions(run);
  addMetricsOption(run);
  run->add_flag("--until-caught-up", untilCaughtUp,
                "stop following once the source's WAL position at the start of follow is applied");

  // journal: the slot's changes into the journal directory, for pipelines that read it.
  auto* journal = app.add_subcommand(
      "journal",
      "stream the slot into the journal directory (journal: in the pipeline file) and confirm "
      "what it holds durably, for pipelines with source: { journal: DIR } to apply into their "
      "own targets");
  journal->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  int journalProgressSeconds = 5;
  journal
      ->add_option("--progress-interval", journalProgressSeconds, "seconds between progress lines")
      ->check(CLI::PositiveNumber);
  int journalRetentionSeconds = 10;
  journal
      ->add_option("--retention-interval", journalRetentionSeconds,
                   "seconds between applications of journal.retain_bytes / retain_age")
      ->check(CLI::PositiveNumber);
  addMetricsOption(journal);

  // rehearse: a timed rehearsal of the cutover on a scratch target, with a report.
  pgmorph::RehearseOptions rehearseOptions;
  auto* rehearse = app.add_subcommand(
      "rehearse",
      "on a scratch target: snapshot, catch up, verify, and write a timed report (Markdown, "
      "JSON, HTML) compared with the previous one (exit 0 equal, 1 different, 2 could not "
      "rehearse)");
  rehearse->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  rehearse->add_option("--report", rehearseOptions.reportDir, "directory of the report files")
      ->required();
  rehearse->add_flag("--reset", rehearseOptions.reset,
                     "empty the mapped target tables, the pipeline's state rows and its slot "
                     "first (each listed before it goes)");
  rehearse->add_option("--jobs", rehearseOptions.jobs, "snapshot workers, verify's tables at once")
      ->check(CLI::PositiveNumber);

  // parked list|retry|discard: what to do with rows that could not be applied.
  pgmorph::ParkedCli parked(app, configPath);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with code 0; CLI11 prints them and its usage
    // messages. Its own codes for usage errors (105, 106, 109, ...) are not ours: 2.
    if (reportUnknownCommand(app)) return 2;
    int code = app.exit(e);
    return code == static_cast<int>(CLI::ExitCodes::Success) ? 0 : 2;
  }
  setupLogging(logLevel);

  if (*check) return pgmorph::CheckCommand::run(configPath, checkJson, std::cout);
  if (*status) return pgmorph::StatusCommand::run(configPath, statusJson, std::cout);
  if (*verify) return pgmorph::VerifyCommand::run(configPath, verifyOptions, std::cout);
  if (*rehearse) return pgmorph::RehearseCommand::run(configPath, rehearseOptions);
  if (*cutover) return pgmorph::CutoverCommand::run(configPath, cutoverOptions, std::cout);
  try {
    pgmorph::PipelineConfig config = pgmorph::loadConfigFile(configPath);
    if (*follow) {
      pgmorph::MetricsEndpoint endpoint(config, metricsAddress);
      pgmorph::FollowOptions options;
      options.metrics = endpoint.metrics();
      if (!untilLsn.empty()) options.untilLsn = pgmorph::Lsn::parse(untilLsn);
      options.progressInterval = std::chrono::seconds(progressSeconds);
      pgmorph::FollowCommand runner(config);
      return runner.follow(options, untilCaughtUp);
    }
    if (*replay) {
      pgmorph::ReplayOptions options;
      options.from = pgmorph::Lsn::parse(replayFrom);
      if (!replayUntil.empty()) options.until = pgmorph::Lsn::parse(replayUntil);
      options.force = replayForce;
      return pgmorph::ReplayCommand::run(config, options);
    }
    if (*journal) {
      // Only the journal's own figures: the target section is not used by this command.
      pgmorph::MetricsEndpoint endpoint(config.metrics, metricsAddress, config.file);
      pgmorph::JournalCommandOptions options;
      options.metrics = endpoint.metrics();
      options.progressInterval = std::chrono::seconds(journalProgressSeconds);
      options.retentionInterval = std::chrono::seconds(journalRetentionSeconds);
      return pgmorph::JournalCommand(config).run(options);
    }
    if (parked.chosen()) return parked.run(config);
    snapshotOptions.progressInterval = std::chrono::seconds(snapshotProgressSeconds);
    if (*snapshot) return pgmorph::SnapshotCommand(config).snapshot(snapshotOptions);
    if (*run) {
      pgmorph::MetricsEndpoint endpoint(config, metricsAddress);
      snapshotOptions.metrics = endpoint.metrics();
      pgmorph::FollowOptions options;
      options.progressInterval = std::chrono::seconds(progressSeconds);
      return pgmorph::SnapshotCommand(config).run(snapshotOptions, options, untilCaughtUp);
    }
  } catch (const std::exception& e) {
    // The pipeline file's and the arguments' problems, and the parked commands' errors, end
    // here; follow, snapshot and run have decided about theirs already (RetryLoop).
    spdlog::error("{}", e.what());
    return 2;
  }
  return 0;
}
