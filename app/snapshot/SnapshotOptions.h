// What a snapshot run is asked to do (the `snapshot` and `run` command lines).
#pragma once

#include <chrono>
#include <cstdint>

namespace pgmorph {
class PipelineMetrics;
class SnapshotObserver;
}  // namespace pgmorph

namespace pgmorph {

struct SnapshotOptions {
  // Copy workers: each has one source session (importing the exported snapshot) and one
  // target session. Tables whose parents are loaded, and key ranges of large tables, run in
  // parallel. 4, by measurement (tests/bench/README.md, 2026-12-02, scale 40 on 2 cores): 2, 3
  // and 4 tie within the noise and 1 is ~10% slower; 4 lets a machine with more cores use them,
  // at ~6% more CPU than 2.
  int jobs = 4;
  // The slot exists but no snapshot of it was finished: drop and re-create it (never by
  // guessing: only when the operator says so).
  bool recreateSlot = false;
  // Source tables with more rows than this (pg_class.reltuples) and a single integer key
  // are copied in key ranges of about this many rows, on several workers.
  std::int64_t splitRows = 200'000;
  // Plain log lines (no terminal): one per running table every interval.
  std::chrono::seconds progressInterval{5};
  // Where to publish rows copied and health (MetricsEndpoint); nullptr when not served.
  PipelineMetrics* metrics = nullptr;
  // Told the slot's creation, each task's times and the final restore (pgmorph rehearse);
  // nullptr when nobody times the snapshot. Not owned.
  SnapshotObserver* observer = nullptr;
};

}  // namespace pgmorph
