// SnapshotProgress: what the snapshot shows while it copies, and the summary at the end.
//
// Workers update per-task counters (atomics, no lock on the hot path); the orchestrator's
// thread calls tick() a few times per second. On a terminal (stderr is a tty) tick()
// redraws one line per task in place — rows done / estimated total (the planner's estimate,
// SnapshotCopier), rate, ETA (copyingLine: never over 100%); otherwise it writes a plain log line
// per running task every `interval`. summary() logs the final table: rows per task, seconds,
// rows/s, and the rows inserted by this run per second of wall time (partial targets' updates are
// listed, not counted).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgmorph {

class PipelineMetrics;

class SnapshotProgress {
 public:
  using Clock = std::chrono::steady_clock;

  struct Task {
    std::string label;
    std::string sourceTable;  // as the mapping names it: the metrics' label (sums key ranges)
    double estimate = 0;      // source rows expected (reltuples)
    bool inserts = true;      // its rows are new target rows (false: a partial target's updates)
    bool rebuild = false;     // not a copy: the bulk load's index build of one table
    std::atomic<std::uint64_t> rowsRead{0};     // source rows read so far
    std::atomic<std::uint64_t> rowsWritten{0};  // target rows stored (set when a part commits)
    std::atomic<int> state{0};  // 0 waiting, 1 copying, 2 done, 3 done before this run
    std::atomic<std::int64_t> startedNs{0}, finishedNs{0};

    void start();  // first part started (idempotent)
    void addStored(std::uint64_t rows) { rowsWritten.fetch_add(rows, std::memory_order_relaxed); }
    void done();  // last part committed
  };

  // `metrics` (nullable, not owned): tick() and summary() publish there the rows stored per
  // source table (the sum of its copy tasks).
  SnapshotProgress(bool live, std::chrono::seconds interval, PipelineMetrics* metrics = nullptr);
  // Adds a task to show; the reference stays valid for the life of this object.
  Task& add(std::string label, double estimate, bool inserts, bool rebuild = false);

  void tick();
  // Final table (and a last redraw on a terminal).
  void summary(double wallSeconds);

  // The line of a task being copied: percentage, rows / estimate, rate, ETA — or, without an
  // estimate or past it (stale statistics), the rows read and "ETA unknown", never over 100%.
  static std::string copyingLine(const std::string& label, std::size_t width, std::uint64_t read,
                                 double estimate, double rate);

  // stderr is a terminal: draw live.
  static bool stderrIsTerminal();

 private:
  std::string line(const Task& t, Clock::time_point now) const;

  bool live_;
  std::chrono::seconds interval_;
  std::vector<std::unique_ptr<Task>> tasks_;
  Clock::time_point lastLog_;
  std::size_t drawnLines_ = 0;
  std::size_t width_ = 24;  // label column
  PipelineMetrics* metrics_ = nullptr;
  void publish() const;
};

}  // namespace pgmorph
