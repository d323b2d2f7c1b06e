#include "app/rehearse/ReportCompare.h"

#include <map>
#include <set>

#include "cdc/json/RapidJsonSetup.h"

#include <rapidjson/document.h>

namespace pgmorph {

namespace {

std::string verdictOf(double before, double now) {
  // Phases under a second are noise: their relative change says nothing.
  if (before < 1 && now < 1) return "same";
  double pct = before > 0 ? 100 * (now - before) / before : 100;
  if (pct > 10) return "slower";
  if (pct < -10) return "faster";
  return "same";
}

}  // namespace

std::optional<Comparison> compareWithPrevious(const std::string& previousJson,
                                              const std::string& keptAs,
                                              const RehearsalReport& now) {
  rapidjson::Document doc;
  doc.Parse(previousJson.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("phases") ||
      !doc["phases"].IsArray())
    return std::nullopt;
  Comparison c;
  c.file = keptAs;
  if (doc.HasMember("started_at") && doc["started_at"].IsString())
    c.startedAt = doc["started_at"].GetString();
  std::map<std::string, double> before;
  for (const auto& p : doc["phases"].GetArray())
    if (p.IsObject() && p.HasMember("name") && p["name"].IsString() && p.HasMember("seconds") &&
        p["seconds"].IsNumber())
      before[p["name"].GetString()] = p["seconds"].GetDouble();
  for (const auto& p : now.phases) {
    PhaseChange ch;
    ch.name = p.name;
    ch.seconds = p.seconds();
    auto it = before.find(p.name);
    if (it == before.end()) {
      ch.verdict = "new";
    } else {
      ch.previousSeconds = it->second;
      if (it->second > 0) ch.changePercent = 100 * (ch.seconds - it->second) / it->second;
      ch.verdict = verdictOf(it->second, ch.seconds);
    }
    c.phases.push_back(std::move(ch));
  }
  std::map<std::string, std::string> was, is;
  if (doc.HasMember("verify") && doc["verify"].IsObject() && doc["verify"].HasMember("tables") &&
      doc["verify"]["tables"].IsArray())
    for (const auto& t : doc["verify"]["tables"].GetArray())
      if (t.IsObject() && t.HasMember("target_table") && t["target_table"].IsString() &&
          t.HasMember("equal") && t["equal"].IsBool())
        was[t["target_table"].GetString()] = t["equal"].GetBool() ? "equal" : "different";
  for (const auto& t : now.verify.tables) is[t.targetTable] = t.equal() ? "equal" : "different";
  std::set<std::string> names;
  for (const auto& [n, v] : was) names.insert(n);
  for (const auto& [n, v] : is) names.insert(n);
  for (const auto& n : names) {
    std::string a = was.count(n) ? was[n] : "absent", b = is.count(n) ? is[n] : "absent";
    if (a != b) c.verifyChanged.push_back({n, a, b});
  }
  return c;
}

}  // namespace pgmorph
