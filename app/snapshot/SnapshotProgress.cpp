#include "app/snapshot/SnapshotProgress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <map>

#include <cstdio>

#include "app/metrics/PipelineMetrics.h"

namespace pgmorph {

namespace {

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SnapshotProgress::Clock::now().time_since_epoch())
      .count();
}

double secondsBetween(std::int64_t fromNs, std::int64_t toNs) {
  return static_cast<double>(toNs - fromNs) / 1e9;
}

std::string duration(double seconds) {
  if (seconds < 0) return "-";
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

void SnapshotProgress::Task::start() {
  std::int64_t expected = 0;
  startedNs.compare_exchange_strong(expected, nowNs());
  int waiting = 0;
  state.compare_exchange_strong(waiting, 1);
}

void SnapshotProgress::Task::done() {
  finishedNs.store(nowNs());
  state.store(2);
}

SnapshotProgress::SnapshotProgress(bool live, std::chrono::seconds interval,
                                   PipelineMetrics* metrics)
    : live_(live), interval_(interval), lastLog_(Clock::now()), metrics_(metrics) {}

void SnapshotProgress::publish() const {
  if (!metrics_) return;
  std::map<std::string, std::uint64_t> bySource;
  for (const auto& t : tasks_)
    if (!t->rebuild) bySource[t->sourceTable] += t->rowsWritten.load();
  for (const auto& [source, rows] : bySource) metrics_->onSnapshotRows(source, rows);
}

bool SnapshotProgress::stderrIsTerminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

SnapshotProgress::Task& SnapshotProgress::add(std::string label, double estimate, bool inserts,
                                              bool rebuild) {
  auto t = std::make_unique<Task>();
  t->inserts = inserts;
  t->rebuild = rebuild;
  t->label = std::move(label);
  t->estimate = estimate;
  width_ = std::max(width_, t->label.size());
  tasks_.push_back(std::move(t));
  return *tasks_.back();
}

std::string SnapshotProgress::line(const Task& t, Clock::time_point) const {
  int state = t.state.load();
  std::uint64_t read = t.rowsRead.load(std::memory_order_relaxed);
  std::int64_t started = t.startedNs.load();
  std::int64_t end = state >= 2 && t.finishedNs.load() ? t.finishedNs.load() : nowNs();
  double elapsed = started ? secondsBetween(started, end) : 0;
  double rate = elapsed > 0 ? static_cast<double>(read) / elapsed : 0;
  if (t.rebuild) {
    if (state == 0) return fmt::format("{:<{}} waiting for the table's copy", t.label, width_);
    if (state == 1) return fmt::format("{:<{}} rebuilding  {}", t.label, width_, duration(elapsed));
    return fmt::format("{:<{}} rebuilt in {}", t.label, width_, duration(elapsed));
  }
  switch (state) {
    case 0:
      return fmt::format("{:<{}} waiting", t.label, width_);
    case 3:
      return fmt::format("{:<{}} done in an earlier run", t.label, width_);
    case 2:
      return fmt::format("{:<{}} done    {:>10} rows  {:>9.0f} rows/s  {}", t.label, width_,
                         t.rowsWritten.load(), rate, duration(elapsed));
    default:
      return copyingLine(t.label, width_, read, t.estimate, rate);
  }
}

std::string SnapshotProgress::copyingLine(const std::string& label, std::size_t width,
                                          std::uint64_t read, double estimate, double rate) {
  // Only a percentage and an ETA the estimate can back: none without an estimate, and none
  // once more rows were read than estimated (stale statistics) — never "100% 908544 / ~90000".
  if (estimate <= 0)
    return fmt::format("{:<{}}      {:>10} / ?          {:>9.0f} rows/s  ETA unknown", label, width,
                       read, rate);
  if (static_cast<double>(read) > estimate)
    return fmt::format(
        "{:<{}}      {:>10} rows, estimate ~{:.0f} exceeded  {:>9.0f} rows/s  ETA "
        "unknown",
        label, width, read, estimate, rate);
  double eta = rate > 0 ? (estimate - static_cast<double>(read)) / rate : -1;
  return fmt::format("{:<{}} {:3.0f}% {:>10} / ~{:<9.0f} {:>9.0f} rows/s  ETA {}", label, width,
                     100.0 * static_cast<double>(read) / estimate, read, estimate, rate,
                     duration(eta));
}

void SnapshotProgress::tick() {
  publish();
  auto now = Clock::now();
  if (live_) {
    // Redraw in place: move up over the lines drawn last time, rewrite each one.
    std::string out;
    if (drawnLines_) out += fmt::format("\x1b[{}A", drawnLines_);
    for (const auto& t : tasks_) out += "\r\x1b[2K" + line(*t, now) + "\n";
    std::fputs(out.c_str(), stderr);
    std::fflush(stderr);
    drawnLines_ = tasks_.size();
    return;
  }
  if (now - lastLog_ < interval_) return;
  lastLog_ = now;
  for (const auto& t : tasks_)
    if (t->state.load() == 1) spdlog::info("snapshot: {}", line(*t, now));
}

void SnapshotProgress::summary(double wallSeconds) {
  publish();
  if (live_) tick();
  // Rows inserted in this run: partial targets update rows already counted, and tasks done
  // by an earlier run took none of this run's time.
  std::uint64_t total = 0, earlier = 0;
  spdlog::info("snapshot summary:");
  spdlog::info("  {:<{}} {:>10} {:>9} {:>11}", "task (target <- source)", width_, "rows", "seconds",
               "rows/s");
  for (const auto& t : tasks_) {
    std::uint64_t rows = t->rowsWritten.load();
    if (t->rebuild) {
      double secs = t->startedNs && t->finishedNs
                        ? secondsBetween(t->startedNs.load(), t->finishedNs.load())
                        : 0;
      spdlog::info("  {:<{}} {:>10} {:>9.1f} {:>11}", t->label, width_, "-", secs, "-");
      continue;
    }
    if (t->state.load() == 3) {
      if (t->inserts) earlier += rows;
      spdlog::info("  {:<{}} {:>10} {:>9} {:>11}", t->label, width_, rows, "earlier", "-");
      continue;
    }
    if (t->inserts) total += rows;
    double secs = t->startedNs && t->finishedNs
                      ? secondsBetween(t->startedNs.load(), t->finishedNs.load())
                      : 0;
    spdlog::info("  {:<{}} {:>10} {:>9.1f} {:>11.0f}", t->label, width_, rows, secs,
                 secs > 0 ? static_cast<double>(rows) / secs : 0.0);
  }
  spdlog::info("  {:<{}} {:>10} {:>9.1f} {:>11.0f}", "rows inserted by this run", width_, total,
               wallSeconds, wallSeconds > 0 ? static_cast<double>(total) / wallSeconds : 0.0);
  if (earlier) spdlog::info("  {:<{}} {:>10}", "rows inserted by earlier runs", width_, earlier);
}

}  // namespace pgmorph
