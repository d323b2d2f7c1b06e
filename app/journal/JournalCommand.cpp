#include "app/journal/JournalCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include <set>

#include "app/RetryLoop.h"
#include "app/journal/JournalStreamer.h"
#include "app/metrics/PipelineMetrics.h"
#include "cdc/model/Errors.h"
#include "state/journal/Journal.h"

namespace pgmorph {

namespace asio = boost::asio;

JournalCommand::JournalCommand(const PipelineConfig& config) : config_(config) {}

int JournalCommand::run(const JournalCommandOptions& options) {
  if (!config_.journal.enabled()) {
    spdlog::error(
        "{}: `pgmorph journal` needs a `journal:` section with its directory (journal: {{ dir: "
        "/var/lib/pgmorph/journal }}): it writes the slot's changes there",
        config_.file);
    return 2;
  }
  if (config_.source.conninfo.empty()) {
    spdlog::error("{}: `pgmorph journal` streams the source's slot: set source.conninfo",
                  config_.file);
    return 2;
  }
  asio::io_context io;
  StopSignals signals(io, stop_, "syncing and confirming the journal");
  RetryLoop retry(io, stop_, "the journal stream");
  std::unique_ptr<JournalWriter> writer;
  std::set<std::string> forced;  // consumers retention passed, reported once (JournalStreamer)
  auto status = retry.run([&] {
    auto attempt = [&] {
      // Once, and kept across sessions: it holds writer.lock (a second writer is refused).
      if (!writer) {
        JournalOptions o;
        o.dir = config_.journal.dir;
        o.segmentBytes = config_.journal.segmentBytes;
        o.retainBytes = config_.journal.retainBytes;
        o.retainAge = std::chrono::seconds(config_.journal.retainAgeSeconds);
        o.compress = config_.journal.compress;
        writer = std::make_unique<JournalWriter>(o);
      }
      JournalStreamer streamer(config_, *writer, io, stop_, forced);
      streamer.run(options, [&] { retry.recovered(); });
      return 0;
    };
    if (!options.metrics) return attempt();
    options.metrics->health().connecting();
    try {
      int r = attempt();
      options.metrics->registry().set("pgmorph_streaming", 0);
      return r;
    } catch (const std::exception& e) {
      options.metrics->registry().set("pgmorph_streaming", 0);
      auto* known = dynamic_cast<const PgmorphError*>(&e);
      if (known && known->errorClass() == ErrorClass::Transient)
        options.metrics->health().down(e.what());
      else
        options.metrics->health().stopped(e.what());
      throw;
    }
  });
  if (status) return *status;
  return 0;
}

}  // namespace pgmorph
