// Metrics: the registry behind `/metrics` — counters, gauges and histograms, each a family
// (name, help, type) of series keyed by their label values — and its renderer in the
// Prometheus text exposition format (version 0.0.4).
//
// Thread-safety: every member function may be called from any thread. One mutex guards the
// families; writers (the apply thread, after each target commit; the snapshot's progress tick)
// and the reader (the HTTP thread's render()) take it briefly. Nothing here is on a per-change
// path: callers publish counts they already keep, at natural points.
//
// Contract: a family is declared once (declare*/declareHistogram) before it is written; writing
// an undeclared family, or one of another type, throws std::logic_error. Counters are set to
// absolute values (set) or increased (add); callers feed them from monotonic counts, so they
// never go down within a process. Label values are escaped on output (\\, \", \n).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pgmorph {

class Metrics {
 public:
  enum class Type { Counter, Gauge, Histogram };
  // Label name -> value, in the order given (the order of output).
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void declareCounter(const std::string& name, const std::string& help);
  void declareGauge(const std::string& name, const std::string& help);
  // `bounds`: the buckets' upper bounds, ascending (+Inf is added on output).
  void declareHistogram(const std::string& name, const std::string& help,
                        std::vector<double> bounds);

  // Counter or gauge: the series' value becomes `value`.
  void set(const std::string& name, const Labels& labels, double value);
  void set(const std::string& name, double value) { set(name, {}, value); }
  // Counter or gauge: the series' value grows by `delta`.
  void add(const std::string& name, const Labels& labels, double delta);
  // Histogram: one observation.
  void observe(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, double value) { observe(name, {}, value); }

  // The value of a counter or gauge series, or the count of a histogram's (tests).
  double value(const std::string& name, const Labels& labels = {}) const;

  // Every family in name order, each series in label order: # HELP, # TYPE, samples.
  std::string render() const;

  // Exposition-format escapes: label values escape \, " and newline; HELP text \ and newline.
  static std::string escapeLabelValue(const std::string& v);
  static std::string escapeHelp(const std::string& v);

 private:
  struct Series {
    double value = 0;                   // counter, gauge
    std::vector<std::uint64_t> counts;  // histogram: per bucket (not cumulative)
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct Family {
    Type type = Type::Gauge;
    std::string help;
    std::vector<double> bounds;  // histogram
    std::map<Labels, Series> series;
  };
  void declare(const std::string& name, Type type, const std::string& help,
               std::vector<double> bounds);
  Family& family(const std::string& name, Type a, Type b);  // with mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace pgmorph
