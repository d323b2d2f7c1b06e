#include "app/metrics/MetricsEndpoint.h"

#include <fmt/format.h>

namespace pgmorph {

MetricsEndpoint::MetricsEndpoint(const MetricsConfig& config, const std::string& addressOverride,
                                 const std::string& file) {
  start(config, addressOverride, file);
}

MetricsEndpoint::MetricsEndpoint(const PipelineConfig& config, const std::string& addressOverride) {
  parked_ = std::make_unique<ParkedRowsSampler>(config.target.conninfo, config.target.stateSchema,
                                                config.pipeline);
  start(config.metrics, addressOverride, config.file);
}

void MetricsEndpoint::start(const MetricsConfig& config, const std::string& addressOverride,
                            const std::string& file) {
  std::string address = addressOverride.empty() ? config.listen : addressOverride;
  if (address.empty()) return;
  std::string what = addressOverride.empty()
                         ? fmt::format("metrics.listen at {}:{}", file, config.line)
                         : std::string("--metrics-address");
  metrics_ = std::make_unique<PipelineMetrics>(config.maxLagSeconds);
  PipelineMetrics* m = metrics_.get();
  ParkedRowsSampler* parked = parked_.get();
  server_ = std::make_unique<MetricsServer>(
      address, [m, parked](const std::string& target) { return answer(*m, target, parked); }, what);
}

HttpAnswer MetricsEndpoint::answer(PipelineMetrics& metrics, const std::string& target,
                                   ParkedRowsSampler* parked) {
  std::string path = target.substr(0, target.find('?'));
  if (path == "/metrics" && parked) parked->maybeRefresh(metrics);
  if (path == "/metrics")
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.registry().render()};
  if (path == "/healthz") {
    Health::Verdict v = metrics.health().verdict();
    return {v.healthy ? 200 : 503, "text/plain; charset=utf-8",
            (v.healthy ? "ok: " : "") + v.reason + "\n"};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n"};
}

}  // namespace pgmorph
