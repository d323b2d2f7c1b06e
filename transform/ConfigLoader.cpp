// ConfigLoader: the entry point and the pipeline-level sections of a pipeline file (pipeline,
// source, target, ids, apply, snapshot, metrics) and the first pass over its tables. A table's
// target entries are parsed in ConfigLoaderMappings.cpp, the checks across entries are in
// ConfigLoaderChecks.cpp; the parser they share is in ConfigLoaderParser.h.
#include "transform/ConfigLoader.h"

#include <fmt/format.h>

#include <stdexcept>

#include "cdc/model/Errors.h"
#include "cdc/model/Uuid.h"
#include "transform/ConfigLoaderParser.h"
#include "transform/YamlReader.h"

namespace pgmorph {

namespace configloader {

PipelineConfig Parser::parse(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull())
    r_.fail(1, "", "the file is empty; expected pipeline, source, target, ids and tables");
  r_.expectMap(root, "");
  r_.checkKeys(root, "",
               {"pipeline", "source", "target", "ids", "tables", "apply", "snapshot", "metrics",
                "on_schema_change", "slot", "ignore", "journal"});

  PipelineConfig cfg;
  cfg.file = r_.file();
  cfg.pipeline = r_.required(root, "pipeline", "");
  if (cfg.pipeline.empty()) r_.fail(root["pipeline"], "pipeline", "the pipeline needs a name");
  parseSource(r_.requiredNode(root, "source", "", "a map"), cfg);
  parseTarget(r_.requiredNode(root, "target", "", "a map"), cfg);

  YAML::Node ids = r_.requiredNode(root, "ids", "", "a map");
  r_.expectMap(ids, "ids");
  r_.checkKeys(ids, "ids", {"namespace"});
  std::string ns = r_.required(ids, "namespace", "ids");
  try {
    cfg.idNamespace = Uuid::parse(ns).str();
  } catch (const std::invalid_argument&) {
    r_.fail(ids["namespace"], "ids.namespace",
            fmt::format("'{}' is not a UUID (expected 8-4-4-4-12 hex digits, e.g. "
                        "8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b)",
                        ns));
  }

  if (YAML::Node apply = r_.optionalNode(root, "apply", "", "a map"); apply.IsDefined())
    parseApply(apply, cfg.apply);
  if (YAML::Node snap = r_.optionalNode(root, "snapshot", "", "a map"); snap.IsDefined())
    parseSnapshot(snap, cfg.snapshot);
  if (YAML::Node m = r_.optionalNode(root, "metrics", "", "a map"); m.IsDefined())
    parseMetrics(m, cfg.metrics);
  if (auto v = r_.optional(root, "on_schema_change", "")) {
    if (*v == "ignore_new_columns")
      cfg.onSchemaChange = SchemaChangePolicy::IgnoreNewColumns;
    else if (*v != "stop")
      r_.fail(root["on_schema_change"], "on_schema_change",
              fmt::format("'{}' is not a policy: expected stop or ignore_new_columns", *v));
    cfg.onSchemaChangeLine = YamlReader::line(root["on_schema_change"]);
  }
  if (YAML::Node s = r_.optionalNode(root, "slot", "", "a map"); s.IsDefined())
    parseSlot(s, cfg.slot);
  if (YAML::Node j = r_.optionalNode(root, "journal", "", "a map"); j.IsDefined()) {
    parseJournal(j, cfg.journal);
    if (cfg.source.readsJournal())
      r_.fail(j, "journal",
              "a pipeline that reads a journal (source.journal) cannot write one: the journal's "
              "writer is the pipeline that owns the slot");
  }

  YAML::Node tables = r_.requiredNode(root, "tables", "", "a map");
  r_.expectMap(tables, "tables");
  collectTables(tables, cfg);
  if (YAML::Node ig = r_.optionalNode(root, "ignore", "", "a list"); ig.IsDefined())
    parseIgnore(ig, cfg);
  std::size_t t = 0;
  for (auto it = tables.begin(); it != tables.end(); ++it, ++t) {
    TableMapping& table = cfg.tables[t];
    std::string path = YamlReader::join("tables", table.idName);
    if (it->second.IsNull())
      r_.fail(r_.lineOf(it->first, it->second), path,
              fmt::format("expected a list of targets, got {}", r_.kindName(it->second)));
    r_.expectList(it->second, path);
    if (it->second.size() == 0) r_.fail(it->second, path, "lists no target table");
    for (std::size_t i = 0; i < it->second.size(); ++i)
      table.targets.push_back(parseMapping(it->second[i], YamlReader::index(path, i)));
  }
  finish(cfg);
  return cfg;
}

QualifiedName Parser::splitName(const YAML::Node& at, std::string_view path,
                                const std::string& name, std::string_view what) const {
  auto dot = name.find('.');
  QualifiedName q{"public", name};
  if (dot != std::string::npos) q = {name.substr(0, dot), name.substr(dot + 1)};
  bool ok = !q.schema.empty() && !q.table.empty() && q.table.find('.') == std::string::npos;
  for (char c : q.schema + q.table) ok = ok && isIdentChar(c);
  if (!ok)
    r_.fail(at, path,
            fmt::format("'{}' is not a {} name (expected table or schema.table)", name, what));
  return q;
}

void Parser::parseSource(const YAML::Node& n, PipelineConfig& cfg) const {
  r_.expectMap(n, "source");
  r_.checkKeys(n, "source", {"conninfo", "slot", "timezone", "journal"});
  if (auto j = r_.optional(n, "journal", "source")) {
    if (j->empty()) r_.fail(n["journal"], "source.journal", "must name the journal's directory");
    cfg.source.journal = resolveDir(*j);
    if (auto c = r_.optional(n, "conninfo", "source")) cfg.source.conninfo = *c;
  } else {
    cfg.source.conninfo = r_.required(n, "conninfo", "source");
  }
  auto slot = r_.optional(n, "slot", "source");
  cfg.source.slot = slot ? *slot : "pgmorph_" + cfg.pipeline;
  bool valid = !cfg.source.slot.empty() && cfg.source.slot.size() <= 63;
  for (char c : cfg.source.slot)
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!valid)
    r_.fail(slot ? n["slot"] : n, "source.slot",
            fmt::format("'{}' is not a valid replication slot name (1 to 63 lower-case letters, "
                        "digits and _){}",
                        cfg.source.slot,
                        slot ? "" : "; it comes from the pipeline name: set source.slot"));
  if (auto tz = r_.optional(n, "timezone", "source")) {
    bool ok = !tz->empty();
    for (char c : *tz)
      ok = ok && (isIdentChar(c) || c == '/' || c == '+' || c == '-' || c == ':' || c == '.');
    if (!ok)
      r_.fail(n["timezone"], "source.timezone",
              fmt::format("'{}' is not a time zone name (e.g. UTC, America/New_York)", *tz));
    cfg.source.timezone = *tz;
  }
}

void Parser::parseTarget(const YAML::Node& n, PipelineConfig& cfg) const {
  r_.expectMap(n, "target");
  r_.checkKeys(n, "target", {"conninfo", "state_schema"});
  cfg.target.conninfo = r_.required(n, "conninfo", "target");
  if (auto s = r_.optional(n, "state_schema", "target")) {
    if (s->empty()) r_.fail(n["state_schema"], "target.state_schema", "must not be empty");
    cfg.target.stateSchema = *s;
  }
}

void Parser::parseApply(const YAML::Node& n, ApplyConfig& apply) const {
  r_.expectMap(n, "apply");
  r_.checkKeys(n, "apply",
              {"batch_changes", "batch_ms", "status_interval_ms", "sessions", "lock_timeout_ms"});
  if (auto v = r_.optionalCount(n, "batch_changes", "apply", 100'000'000)) apply.batchChanges = *v;
  if (auto v = r_.optionalCount(n, "batch_ms", "apply", 3'600'000))
    apply.batchMillis = static_cast<std::uint32_t>(*v);
  if (auto v = r_.optionalCount(n, "status_interval_ms", "apply", 3'600'000))
    apply.statusIntervalMillis = static_cast<std::uint32_t>(*v);
  if (auto v = r_.optionalCount(n, "sessions", "apply", 16)) apply.sessions = static_cast<std::uint32_t>(*v);
  if (auto v = r_.optionalCount(n, "lock_timeout_ms", "apply", 3'600'000))
    apply.lockTimeoutMillis = static_cast<std::uint32_t>(*v);
}

void Parser::parseSnapshot(const YAML::Node& n, SnapshotConfig& snapshot) const {
  r_.expectMap(n, "snapshot");
  r_.checkKeys(n, "snapshot", {"defer_indexes", "index_foreign_keys"});
  auto flag = [&](const char* key, bool& out) {
    if (auto v = r_.optional(n, key, "snapshot")) {
      if (*v == "true")
        out = true;
      else if (*v == "false")
        out = false;
      else
        r_.fail(n[key], fmt::format("snapshot.{}", key),
                fmt::format("'{}' is not a boolean (expected true or false)", *v));
    }
  };
  flag("defer_indexes", snapshot.deferIndexes);
  flag("index_foreign_keys", snapshot.indexForeignKeys);
}

void Parser::parseMetrics(const YAML::Node& n, MetricsConfig& metrics) const {
  r_.expectMap(n, "metrics");
  r_.checkKeys(n, "metrics", {"listen", "max_lag_seconds"});
  if (auto v = r_.optional(n, "listen", "metrics")) {
    auto colon = v->rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < v->size();
    std::uint64_t port = 0;
    for (std::size_t i = ok ? colon + 1 : v->size(); i < v->size(); ++i) {
      ok = ok && (*v)[i] >= '0' && (*v)[i] <= '9' && port < 100000;
      port = port * 10 + static_cast<std::uint64_t>((*v)[i] - '0');
    }
    if (!ok || port == 0 || port > 65535)
      r_.fail(n["listen"], "metrics.listen",
              fmt::format("'{}' is not HOST:PORT (e.g. 127.0.0.1:9187)", *v));
    metrics.listen = *v;
    metrics.line = YamlReader::line(n["listen"]);
  }
  if (auto v = r_.optional(n, "max_lag_seconds", "metrics")) {
    double seconds = 0;
    std::size_t used = 0;
    try {
      seconds = std::stod(*v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v->size() || !(seconds > 0))
      r_.fail(n["max_lag_seconds"], "metrics.max_lag_seconds",
              fmt::format("'{}' is not a positive number of seconds", *v));
    metrics.maxLagSeconds = seconds;
  }
}

void Parser::collectTables(const YAML::Node& tables, PipelineConfig& cfg) {
  for (auto it = tables.begin(); it != tables.end(); ++it) {
    std::string name = r_.key(it->first, "tables");
    std::string path = YamlReader::join("tables", name);
    QualifiedName q = splitName(it->first, path, name, "source table");
    for (const auto& [other, otherName] : mapped_)
      if (other.schema == q.schema && other.table == q.table)
        r_.fail(it->first, path,
                fmt::format("source table {}.{} is mapped twice (also as '{}'); list all its "
                            "targets under one entry",
                            q.schema, q.table, otherName));
    mapped_.emplace_back(q, name);
    TableMapping t;
    t.sourceSchema = q.schema;
    t.sourceTable = q.table;
    t.idName = name;
    t.line = YamlReader::line(it->first);
    cfg.tables.push_back(std::move(t));
  }
}

}  // namespace configloader

PipelineConfig ConfigLoader::fromString(const std::string& yaml, const std::string& file,
                                        const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: not valid YAML: {}", file, e.mark.line + 1, e.msg));
  }
  configloader::Parser parser(file, yaml, env);
  return parser.parse(root);
}

}  // namespace pgmorph
