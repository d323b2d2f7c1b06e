#include "app/metrics/ParkedRowsSampler.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace pgmorph {

ParkedRowsSampler::ParkedRowsSampler(std::string conninfo, std::string stateSchema,
                                     std::string pipeline, std::chrono::milliseconds interval)
    : conninfo_(std::move(conninfo)),
      store_(std::move(stateSchema), std::move(pipeline)),
      interval_(interval) {}

void ParkedRowsSampler::maybeRefresh(PipelineMetrics& metrics) {
  auto now = Clock::now();
  if (last_ && now - *last_ < interval_) return;
  last_ = now;
  try {
    if (!session_ || !session_->isOk())
      session_ = std::make_unique<PgConnection>(conninfo_, "target (metrics)");
    if (!store_.exists(*session_)) return;  // nothing parked yet; a read creates nothing
    metrics.onParkedCounts(store_.countByTable(*session_));
  } catch (const std::exception& e) {
    // Only the gauge's freshness is at stake: the apply reports the target's failures itself.
    spdlog::debug("metrics: cannot read the parked rows now: {}", e.what());
    session_.reset();
  }
}

}  // namespace pgmorph
