// What a follow run is asked to do: stream forever, or stop at a point.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "app/follow/ApplyStats.h"
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
  // Called once a session has both databases connected and the stream started: FollowCommand
  // ends the outage in progress there (RetryLoop's "back after" line), then calls the one set here
  // (pgmorph rehearse times the apply from it).
  std::function<void()> onStreaming;
  // Called about every second while streaming, on the follower's thread, with the run's counters
  // and the source's pg_current_wal_lsn() (pgmorph rehearse samples lag and throughput).
  std::function<void(const ApplyStats&, Lsn sourceCurrent)> onSample;
};

enum class FollowEnd { Stopped, ReachedTarget };

}  // namespace pgmorph
