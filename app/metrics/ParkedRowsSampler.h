// ParkedRowsSampler: the pgmorph_parked_rows gauge — what the parked store holds now, by
// target table and reason (the entry's kind, as `pgmorph status` groups them) — read from the
// target at most once per `interval`, when /metrics is scraped.
//
// Why on the scrape and on a session of its own: the apply's session may be inside a target
// transaction or a libpq pipeline at any moment, and the parked rows change only when the
// apply commits; a scrape every few seconds costs one GROUP BY over the pipeline's entries
// (the parked table's primary key leads with the pipeline). A failure (the target down, the
// state schema not created yet) leaves the last values in place: the sampler never stops a
// command, and /healthz says what is wrong with the target.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "app/metrics/PipelineMetrics.h"
#include "cdc/pg/PgConnection.h"
#include "state/ParkedStore.h"

namespace pgmorph {

class ParkedRowsSampler {
 public:
  using Clock = std::chrono::steady_clock;

  ParkedRowsSampler(std::string conninfo, std::string stateSchema, std::string pipeline,
                    std::chrono::milliseconds interval = std::chrono::seconds(5));

  // Reads the counts into `metrics` when the last read is older than the interval.
  void maybeRefresh(PipelineMetrics& metrics);

 private:
  std::string conninfo_;
  ParkedStore store_;
  std::chrono::milliseconds interval_;
  std::optional<Clock::time_point> last_;
  std::unique_ptr<PgConnection> session_;  // opened on first use, again after a failure
};

}  // namespace pgmorph
