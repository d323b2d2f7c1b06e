#include "app/ParkedCli.h"

#include <iostream>

namespace pgmorph {

ParkedCli::ParkedCli(CLI::App& app, std::string& configPath) {
  parked_ = app.add_subcommand(
      "parked", "list, retry or discard the rows parked in the target's state schema");
  parked_->require_subcommand(1);
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", configPath, "pipeline file (YAML)")->required();
  };

  list_ = parked_->add_subcommand("list", "show parked rows, oldest first");
  common(list_);
  list_->add_option("--table", selection_.table,
                    "only rows of this target table (schema optional) or source table");
  list_->add_option("--reason", selection_.reason,
                    "only rows whose reason contains this text (case-insensitive)");
  list_->add_option("--kind", kind_, "only rows of this kind")
      ->check(CLI::IsMember({"missing_parent", "null_reference", "refused", "unconvertible"}));
  list_->add_option("--limit", selection_.limit, "show at most this many rows");
  list_->add_flag("--wide", selection_.wide, "print reasons in full");

  retry_ = parked_->add_subcommand(
      "retry",
      "apply parked rows now (parents first, in batches that commit; Ctrl-C stops after "
      "the batch in flight); what fails stays parked");
  common(retry_);
  auto* all = retry_->add_flag("--all", all_, "every parked row of the pipeline");
  auto* ids = retry_->add_option("--id", selection_.ids, "this parked row (repeatable)");
  all->excludes(ids);
  retry_
      ->add_option("--batch", retryOptions_.batch,
                   "entries per transaction (each batch commits; default 1000)")
      ->check(CLI::PositiveNumber);
  retry_->callback([all, ids] {
    if (all->count() == 0 && ids->count() == 0)
      throw CLI::ValidationError("retry", "say which rows: --all or --id N");
  });

  discard_ = parked_->add_subcommand("discard", "remove parked rows for good (counted and logged)");
  common(discard_);
  auto* discardIds = discard_->add_option("--id", selection_.ids, "this parked row (repeatable)");
  auto* table = discard_->add_option("--table", selection_.table,
                                     "every parked row of this target or source table");
  discardIds->excludes(table);
  discard_->callback([discardIds, table] {
    if (discardIds->count() == 0 && table->count() == 0)
      throw CLI::ValidationError("discard", "say which rows: --id N or --table T");
  });
}

int ParkedCli::run(const PipelineConfig& config) const {
  ParkedCommand command(config);
  ParkedCommand::Selection selection = selection_;
  if (!kind_.empty()) selection.kind = parseParkKind(kind_);
  if (list_->parsed()) return command.list(selection, std::cout);
  if (retry_->parsed()) return command.retry(all_, selection, retryOptions_, std::cout);
  return command.discard(selection, std::cout);
}

}  // namespace pgmorph
