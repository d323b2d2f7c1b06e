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
#include "app/metrics/PipelineMetrics.h"
#include "transform/Config.h"

namespace pgmorph {

class MetricsEndpoint {
 public:
  // `addressOverride` (--metrics-address) wins over config.metrics.listen; `file` is the
  // pipeline file, for the bind error's file:line.
  MetricsEndpoint(const MetricsConfig& config, const std::string& addressOverride,
                  const std::string& file);

  PipelineMetrics* metrics() { return metrics_.get(); }
  unsigned short port() const { return server_ ? server_->port() : 0; }

  // The answer for a request path (the server's handler; tests call it directly).
  static HttpAnswer answer(PipelineMetrics& metrics, const std::string& target);

 private:
  std::unique_ptr<PipelineMetrics> metrics_;
  std::unique_ptr<MetricsServer> server_;  // after metrics_: stops before it goes
};

}  // namespace pgmorph
