// MetricsEndpoint: `metrics:` / --metrics-address made real for one command. When an address
// is set it owns the PipelineMetrics (registry + health) and the MetricsServer that serves them:
//   GET /metrics  Prometheus text format (Metrics::render)
//   GET /healthz  200 "ok: streaming" or 503 "<reason>" (Health::verdict), one line
// and nothing (metrics() is nullptr) otherwise. Constructed before the command starts, so that
// a bad or busy address stops it at once; destroyed after the command (joins the server).
#pragma once

#include <memory>
#include <string>

#include "app/metrics/MetricsServer.h"
#include "app/metrics/ParkedRowsSampler.h"
#include "app/metrics/PipelineMetrics.h"
#include "transform/Config.h"

namespace pgmorph {

class MetricsEndpoint {
 public:
  // `addressOverride` (--metrics-address) wins over config.metrics.listen; `file` is the
  // pipeline file, for the bind error's file:line.
  MetricsEndpoint(const MetricsConfig& config, const std::string& addressOverride,
                  const std::string& file);
  // The same for a pipeline, whose /metrics also carries pgmorph_parked_rows, read from its
  // parked store on the target (ParkedRowsSampler).
  MetricsEndpoint(const PipelineConfig& config, const std::string& addressOverride);

  PipelineMetrics* metrics() { return metrics_.get(); }
  unsigned short port() const { return server_ ? server_->port() : 0; }

  // The answer for a request path (the server's handler; tests call it directly).
  static HttpAnswer answer(PipelineMetrics& metrics, const std::string& target,
                           ParkedRowsSampler* parked = nullptr);

 private:
  void start(const MetricsConfig& config, const std::string& addressOverride,
             const std::string& file);

  std::unique_ptr<ParkedRowsSampler> parked_;  // only touched by the server's thread
  std::unique_ptr<PipelineMetrics> metrics_;
  std::unique_ptr<MetricsServer> server_;  // after metrics_: stops before it goes
};

}  // namespace pgmorph
