// What a follow run is asked to do: stream forever, or stop at a point.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "cdc/model/Lsn.h"

namespace pgmorph {
class PipelineMetrics;
}

namespace pgmorph {

struct FollowOptions {
  // Stop once the target's checkpoint has reached this source position (set by
  // --until-lsn, or by --until-caught-up from pg_current_wal_lsn() at start).
  std::optional<Lsn> untilLsn;
  // Apply every source transaction that commits before this position and none at or after it,
  // then end (ReachedTarget): the target then holds exactly what a source snapshot taken at
  // this position holds (pgmorph verify). Unlike untilLsn, which may end past its point.
  std::optional<Lsn> fenceLsn;
  std::chrono::seconds progressInterval{5};
  // Run `pgmorph check`'s checks before anything moves (CheckCommand::preflight); `run` has run
  // them before its snapshot already.
  bool checkFirst = true;
  // Where to publish metrics and health (MetricsEndpoint); nullptr when not served.
  PipelineMetrics* metrics = nullptr;
  // Called once a session has both databases connected and the stream started (RetryLoop ends
  // the outage in progress there, with its "back after" line).
  std::function<void()> onStreaming;
};

enum class FollowEnd { Stopped, ReachedTarget };

}  // namespace pgmorph
