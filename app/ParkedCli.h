// ParkedCli: the `parked` subcommand of the command line and its three sub-subcommands
// (list, retry, discard), with their options; runs ParkedCommand for the one chosen. Kept out
// of main.cpp so that main only adds it and asks whether it was chosen.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "app/ParkedCommand.h"

namespace pgmorph {

class ParkedCli {
 public:
  // Adds `parked` to `app`; `configPath` is main's (shared with the other
  // subcommands) and must outlive this object.
  ParkedCli(CLI::App& app, std::string& configPath);

  bool chosen() const { return parked_->parsed(); }
  // Runs the chosen sub-subcommand; returns the exit code.
  int run(const PipelineConfig& config) const;

 private:
  CLI::App* parked_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* retry_ = nullptr;
  CLI::App* discard_ = nullptr;
  ParkedCommand::Selection selection_;
  std::string kind_;
  bool all_ = false;
  ParkedCommand::RetryOptions retryOptions_;
};

}  // namespace pgmorph
