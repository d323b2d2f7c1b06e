#include "app/metrics/Metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pgmorph {

namespace {

// Numbers as the exposition format reads them: integers without a fraction, +Inf/-Inf/NaN.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string labelText(const Metrics::Labels& labels, const std::string& extraName = {},
                      const std::string& extraValue = {}) {
  if (labels.empty() && extraName.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{}=\"{}\"", k, Metrics::escapeLabelValue(v));
  }
  if (!extraName.empty()) {
    if (!first) out += ',';
    out += fmt::format("{}=\"{}\"", extraName, extraValue);
  }
  return out + "}";
}

const char* typeName(Metrics::Type t) {
  switch (t) {
    case Metrics::Type::Counter:
      return "counter";
    case Metrics::Type::Histogram:
      return "histogram";
    case Metrics::Type::Gauge:
      break;
  }
  return "gauge";
}

}  // namespace

std::string Metrics::escapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string Metrics::escapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Metrics::declare(const std::string& name, Type type, const std::string& help,
                      std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = families_.try_emplace(name);
  if (!inserted) {
    if (it->second.type != type)
      throw std::logic_error("metric " + name + " declared twice with different types");
    return;
  }
  it->second.type = type;
  it->second.help = help;
  std::sort(bounds.begin(), bounds.end());
  it->second.bounds = std::move(bounds);
}

void Metrics::declareCounter(const std::string& name, const std::string& help) {
  declare(name, Type::Counter, help, {});
}
void Metrics::declareGauge(const std::string& name, const std::string& help) {
  declare(name, Type::Gauge, help, {});
}
void Metrics::declareHistogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds) {
  declare(name, Type::Histogram, help, std::move(bounds));
}

Metrics::Family& Metrics::family(const std::string& name, Type a, Type b) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::logic_error("metric " + name + " is not declared");
  if (it->second.type != a && it->second.type != b)
    throw std::logic_error("metric " + name + " is a " + typeName(it->second.type));
  return it->second;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name, Type::Counter, Type::Gauge).series[labels].value = value;
}

void Metrics::add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard lock(mutex_);
  family(name, Type::Counter, Type::Gauge).series[labels].value += delta;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, Type::Histogram, Type::Histogram);
  Series& s = f.series[labels];
  if (s.counts.empty()) s.counts.assign(f.bounds.size() + 1, 0);
  auto bucket = std::lower_bound(f.bounds.begin(), f.bounds.end(), value) - f.bounds.begin();
  ++s.counts[static_cast<std::size_t>(bucket)];  // le: value <= bound
  s.sum += value;
  ++s.count;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(labels);
  if (s == it->second.series.end()) return 0;
  return it->second.type == Type::Histogram ? static_cast<double>(s->second.count)
                                            : s->second.value;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escapeHelp(f.help), name,
                       typeName(f.type));
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::Histogram) {
        out += fmt::format("{}{} {}\n", name, labelText(labels), number(s.value));
        continue;
      }
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
        cumulative += s.counts[i];
        std::string le = i < f.bounds.size() ? number(f.bounds[i]) : "+Inf";
        out += fmt::format("{}_bucket{} {}\n", name, labelText(labels, "le", le), cumulative);
      }
      out += fmt::format("{}_sum{} {}\n", name, labelText(labels), number(s.sum));
      out += fmt::format("{}_count{} {}\n", name, labelText(labels), s.count);
    }
  }
  return out;
}

}  // namespace pgmorph
