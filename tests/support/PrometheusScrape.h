// PrometheusScrape: a /metrics body read by a real parser of the Prometheus text format — the
// Prometheus project's Python client (tests/support/prometheus-samples.py, Debian package
// python3-prometheus-client), plus the checks it leaves out (a TYPE for every family, no series
// twice, cumulative histogram buckets). Tests then look samples up by name and labels instead
// of matching lines.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgmorph::test {

struct PrometheusSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

class PrometheusScrape {
 public:
  // Throws std::runtime_error with the parser's reason when `body` is not valid.
  static PrometheusScrape parse(const std::string& body);

  // The value of the sample `series`, written as Prometheus renders it: `name` or
  // `name{label="value",...}` (labels in any order; every label must match, none may be extra).
  std::optional<double> value(const std::string& series) const;
  // Family name -> type ("counter", "gauge", "histogram", ...).
  const std::map<std::string, std::string>& families() const { return families_; }
  const std::vector<PrometheusSample>& samples() const { return samples_; }

 private:
  std::map<std::string, std::string> families_;
  std::vector<PrometheusSample> samples_;
};

// The value of `series` in `body`, nullopt when absent; fails the parse loudly (throws) when the
// body is not valid Prometheus text.
inline std::optional<double> sample(const std::string& body, const std::string& series) {
  return PrometheusScrape::parse(body).value(series);
}

}  // namespace pgmorph::test
