// JournalCommand: `pgmorph journal -c FILE`. Owns the pipeline's slot and writes what it sends
// into the journal directory of the `journal:` section (state/journal/Journal.h), for any number
// of pipelines that read it (`source: { journal: DIR }`), each into its own target. The target
// section of the file is not used (nothing connects to it).
//
// Sessions (JournalStreamer) run through RetryLoop like follow's: transient failures (the source
// restarting, the slot still held by a previous walsender) are retried with backoff, what needs
// an operator (a hole between the journal and the slot, a lost slot, a second writer) ends the
// command with 2. SIGINT/SIGTERM stop it cleanly (0) after a last sync and confirm. The journal
// writer (and its writer.lock) lives across sessions.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "app/StopFlag.h"
#include "transform/Config.h"

namespace pgmorph {

class PipelineMetrics;

struct JournalCommandOptions {
  std::chrono::seconds progressInterval{5};
  std::chrono::seconds retentionInterval{10};
  PipelineMetrics* metrics = nullptr;  // /metrics of the journal (nullptr: not served)
};

class JournalCommand {
 public:
  explicit JournalCommand(const PipelineConfig& config);
  // Exit codes: 0 stopped on request; 2 needs an operator (the log says what to do).
  int run(const JournalCommandOptions& options);

 private:
  const PipelineConfig& config_;
  StopFlag stop_;
};

}  // namespace pgmorph
