#include "tests/support/PrometheusScrape.h"

#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/PgCluster.h"

namespace pgmorph::test {

namespace {

// "name{a=\"x\",b=\"y\"}" -> name and labels (values unescaped: \\, \", \n).
PrometheusSample parseSeries(const std::string& series) {
  PrometheusSample s;
  auto brace = series.find('{');
  s.name = series.substr(0, brace);
  if (brace == std::string::npos) return s;
  std::size_t i = brace + 1;
  while (i < series.size() && series[i] != '}') {
    auto eq = series.find('=', i);
    std::string key = series.substr(i, eq - i);
    std::size_t j = eq + 2;  // past ="
    std::string value;
    for (; j < series.size() && series[j] != '"'; ++j) {
      if (series[j] == '\\' && j + 1 < series.size()) {
        ++j;
        value += series[j] == 'n' ? '\n' : series[j];
      } else {
        value += series[j];
      }
    }
    s.labels[key] = value;
    i = j + 1;
    if (i < series.size() && series[i] == ',') ++i;
  }
  return s;
}

}  // namespace

PrometheusScrape PrometheusScrape::parse(const std::string& body) {
  char in[] = "/tmp/pgmorph-prom-in-XXXXXX";
  int fd = ::mkstemp(in);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  std::ofstream(in) << body;
  std::string out = std::string(in) + ".json", err = std::string(in) + ".err";
  // Debian's interpreter, where python3-prometheus-client installs (not a python3 on PATH).
  std::string cmd = "/usr/bin/python3 " + sourceDir() + "/tests/support/prometheus-samples.py < " +
                    in + " > " + out + " 2> " + err;
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  std::string json = slurp(out), why = slurp(err);
  std::remove(in);
  std::remove(out.c_str());
  std::remove(err.c_str());
  if (status != 0)
    throw std::runtime_error("/metrics is not valid Prometheus text: " + why + "\n" + body);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::runtime_error("prometheus-samples.py printed no JSON: " + json);
  PrometheusScrape scrape;
  for (const auto& f : doc["families"].GetObject())
    scrape.families_[f.name.GetString()] = f.value.GetString();
  for (const auto& s : doc["samples"].GetArray()) {
    PrometheusSample p;
    p.name = s["name"].GetString();
    for (const auto& l : s["labels"].GetObject())
      p.labels[l.name.GetString()] = l.value.GetString();
    const auto& v = s["value"];
    if (v.IsNumber()) {
      p.value = v.GetDouble();
    } else {
      std::string t = v.GetString();
      p.value = t == "inf" ? HUGE_VAL : t == "-inf" ? -HUGE_VAL : NAN;
    }
    scrape.samples_.push_back(std::move(p));
  }
  return scrape;
}

std::optional<double> PrometheusScrape::value(const std::string& series) const {
  PrometheusSample want = parseSeries(series);
  for (const auto& s : samples_)
    if (s.name == want.name && s.labels == want.labels) return s.value;
  return std::nullopt;
}

}  // namespace pgmorph::test
