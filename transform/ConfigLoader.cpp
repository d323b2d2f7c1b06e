#include "transform/ConfigLoader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "cdc/model/Errors.h"
#include "cdc/model/Uuid.h"
#include "transform/YamlReader.h"

namespace pgmorph {

namespace {

struct QualifiedName {
  std::string schema;
  std::string table;
};

bool isIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

// The parser of one file: a first pass collects the mapped source table names so that refs
// and key.table can be checked where they are written (with their own line).
class Parser {
 public:
  Parser(const std::string& file, std::string_view text, const EnvLookup& env)
      : r_(file, text, env) {}

  PipelineConfig parse(const YAML::Node& root);

 private:
  QualifiedName splitName(const YAML::Node& at, std::string_view path, const std::string& name,
                          std::string_view what) const;
  void parseSource(const YAML::Node& n, PipelineConfig& cfg) const;
  void parseTarget(const YAML::Node& n, PipelineConfig& cfg) const;
  void parseApply(const YAML::Node& n, ApplyConfig& apply) const;
  void parseSnapshot(const YAML::Node& n, SnapshotConfig& snapshot) const;
  void collectTables(const YAML::Node& tables, PipelineConfig& cfg);
  TargetMapping parseMapping(const YAML::Node& n, const std::string& path) const;
  void parseKey(const YAML::Node& n, const std::string& path, TargetMapping& m) const;
  std::vector<std::string> parseColumnList(const YAML::Node& n, const std::string& path) const;
  ColumnMapping parseColumn(const std::string& source, const YAML::Node& key,
                            const YAML::Node& value, const std::string& path) const;
  ConstantColumn parseConstant(const YAML::Node& n, const std::string& path) const;
  void parseWhere(const YAML::Node& n, const std::string& path, TargetMapping& m) const;
  RowPolicy parsePolicy(const YAML::Node& map, std::string_view key, const std::string& path) const;
  void parseType(const YAML::Node& map, const std::string& path, ColumnMapping& c) const;
  // Resolves a table name written in a ref or key.table to the idName of a mapped table.
  std::string resolveTable(const YAML::Node& at, const std::string& path, const std::string& name,
                           std::string_view what) const;
  void checkTargetColumns(const TargetMapping& m, const std::string& path) const;
  void finish(PipelineConfig& cfg) const;

  YamlReader r_;
  // Mapped source tables, in file order (first pass).
  std::vector<std::pair<QualifiedName, std::string>> mapped_;  // name, idName
};

PipelineConfig Parser::parse(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull())
    r_.fail(1, "", "the file is empty; expected pipeline, source, target, ids and tables");
  r_.expectMap(root, "");
  r_.checkKeys(root, "", {"pipeline", "source", "target", "ids", "tables", "apply", "snapshot"});

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

  YAML::Node tables = r_.requiredNode(root, "tables", "", "a map");
  r_.expectMap(tables, "tables");
  collectTables(tables, cfg);
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
  r_.checkKeys(n, "source", {"conninfo", "slot", "timezone"});
  cfg.source.conninfo = r_.required(n, "conninfo", "source");
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
  r_.checkKeys(n, "apply", {"batch_changes", "batch_ms", "status_interval_ms"});
  if (auto v = r_.optionalCount(n, "batch_changes", "apply", 100'000'000)) apply.batchChanges = *v;
  if (auto v = r_.optionalCount(n, "batch_ms", "apply", 3'600'000))
    apply.batchMillis = static_cast<std::uint32_t>(*v);
  if (auto v = r_.optionalCount(n, "status_interval_ms", "apply", 3'600'000))
    apply.statusIntervalMillis = static_cast<std::uint32_t>(*v);
}

void Parser::parseSnapshot(const YAML::Node& n, SnapshotConfig& snapshot) const {
  r_.expectMap(n, "snapshot");
  r_.checkKeys(n, "snapshot", {"defer_indexes"});
  if (auto v = r_.optional(n, "defer_indexes", "snapshot")) {
    if (*v == "true")
      snapshot.deferIndexes = true;
    else if (*v == "false")
      snapshot.deferIndexes = false;
    else
      r_.fail(n["defer_indexes"], "snapshot.defer_indexes",
              fmt::format("'{}' is not a boolean (expected true or false)", *v));
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

std::string Parser::resolveTable(const YAML::Node& at, const std::string& path,
                                 const std::string& name, std::string_view what) const {
  auto dot = name.find('.');
  std::string schema = dot == std::string::npos ? "public" : name.substr(0, dot);
  std::string table = dot == std::string::npos ? name : name.substr(dot + 1);
  for (const auto& [q, idName] : mapped_)
    if (q.schema == schema && q.table == table) return idName;
  std::string list;
  for (const auto& m : mapped_) list += (list.empty() ? "" : ", ") + m.second;
  r_.fail(at, path,
          fmt::format("{} names '{}', which is not a mapped source table (mapped: {})", what, name,
                      list));
}

TargetMapping Parser::parseMapping(const YAML::Node& n, const std::string& path) const {
  r_.expectMap(n, path);
  r_.checkKeys(n, path, {"target", "key", "legacy_id", "columns", "set", "where", "mode"});
  TargetMapping m;
  m.line = YamlReader::line(n);
  if (auto mode = r_.optional(n, "mode", path)) {
    if (*mode == "upsert")
      m.mode = TargetMode::Upsert;
    else if (*mode == "update")
      m.mode = TargetMode::Update;
    else
      r_.fail(n["mode"], YamlReader::join(path, "mode"),
              fmt::format("bad value '{}' (expected upsert or update)", *mode));
  }
  std::string target = r_.required(n, "target", path);
  QualifiedName q = splitName(n["target"], YamlReader::join(path, "target"), target, "table");
  m.targetSchema = q.schema;
  m.target = q.table;
  parseKey(r_.requiredNode(n, "key", path, "a column, a list of columns or {column, table}"),
           YamlReader::join(path, "key"), m);

  if (auto legacy = r_.optional(n, "legacy_id", path)) {
    if (m.mode == TargetMode::Update)
      r_.fail(n["legacy_id"], YamlReader::join(path, "legacy_id"),
              "legacy_id is only for upsert targets (a mode: update target never inserts rows)");
    m.legacyIdColumn = *legacy;
  }
  if (YAML::Node cols = r_.optionalNode(n, "columns", path, "a map"); cols.IsDefined()) {
    std::string cpath = YamlReader::join(path, "columns");
    r_.expectMap(cols, cpath);
    r_.checkUnique(cols, cpath);
    for (auto it = cols.begin(); it != cols.end(); ++it) {
      std::string source = r_.key(it->first, cpath);
      std::string colPath = YamlReader::join(cpath, source);
      // `_: { to, value }`: a target-only constant written among the columns.
      if (source == "_")
        m.set.push_back(parseConstant(it->second, colPath));
      else
        m.columns.push_back(parseColumn(source, it->first, it->second, colPath));
    }
  }
  if (YAML::Node set = r_.optionalNode(n, "set", path, "a list"); set.IsDefined()) {
    std::string spath = YamlReader::join(path, "set");
    r_.expectList(set, spath);
    for (std::size_t i = 0; i < set.size(); ++i)
      m.set.push_back(parseConstant(set[i], YamlReader::index(spath, i)));
  }
  if (YAML::Node where = r_.optionalNode(n, "where", path, "a map"); where.IsDefined())
    parseWhere(where, YamlReader::join(path, "where"), m);
  if (m.mode == TargetMode::Update && m.columns.empty() && m.set.empty())
    r_.fail(n, path, "a mode: update target must write at least one column (columns or set)");
  checkTargetColumns(m, path);
  return m;
}

std::vector<std::string> Parser::parseColumnList(const YAML::Node& n,
                                                 const std::string& path) const {
  std::vector<std::string> cols;
  if (n.IsSequence()) {
    if (n.size() == 0) r_.fail(n, path, "the key lists no column");
    for (std::size_t i = 0; i < n.size(); ++i) {
      std::string c = r_.scalar(n[i], YamlReader::index(path, i));
      if (c.empty()) r_.fail(n[i], YamlReader::index(path, i), "empty column name");
      if (std::find(cols.begin(), cols.end(), c) != cols.end())
        r_.fail(n[i], YamlReader::index(path, i), fmt::format("column '{}' is listed twice", c));
      cols.push_back(std::move(c));
    }
  } else {
    std::string c = r_.scalar(n, path);
    if (c.empty()) r_.fail(n, path, "empty column name");
    cols.push_back(std::move(c));
  }
  return cols;
}

void Parser::parseKey(const YAML::Node& n, const std::string& path, TargetMapping& m) const {
  if (n.IsMap()) {
    if (m.mode != TargetMode::Update)
      r_.fail(n, path,
              "key: {column, table} names a row of another table; it is only for mode: update "
              "(write key: <column> or a list of columns for this table's own key)");
    r_.checkKeys(n, path, {"column", "table"});
    m.keyColumns =
        parseColumnList(r_.requiredNode(n, "column", path), YamlReader::join(path, "column"));
    std::string table = r_.required(n, "table", path);
    m.keyTable = resolveTable(n["table"], YamlReader::join(path, "table"), table, "key.table");
    return;
  }
  if (m.mode == TargetMode::Update)
    r_.fail(n, path,
            "a mode: update target needs key: {column: <source column naming the target row>, "
            "table: <source table that row comes from>}");
  if (!n.IsScalar() && !n.IsSequence())
    r_.fail(n, path, fmt::format("expected a column or a list of columns, got {}", r_.kindName(n)));
  m.keyColumns = parseColumnList(n, path);
}

ColumnMapping Parser::parseColumn(const std::string& source, const YAML::Node& key,
                                  const YAML::Node& value, const std::string& path) const {
  ColumnMapping c;
  c.source = source;
  c.line = YamlReader::line(key);
  if (value.IsScalar()) {
    c.target = r_.scalar(value, path);
    if (c.target.empty()) r_.fail(value, path, "empty target column name");
    return c;
  }
  if (!value.IsMap())
    r_.fail(r_.lineOf(key, value), path,
            fmt::format("expected a target column or {{ to: column, ...options }}, got {}",
                        r_.kindName(value)));
  r_.checkKeys(value, path, {"to", "type", "ref", "on_missing", "map", "default", "on_error"});
  c.target = r_.required(value, "to", path);
  if (c.target.empty()) r_.fail(value["to"], YamlReader::join(path, "to"), "empty column name");
  parseType(value, path, c);
  if (auto ref = r_.optional(value, "ref", path)) {
    if (c.conversion != Conversion::None)
      r_.fail(value["ref"], YamlReader::join(path, "ref"),
              "ref and type cannot be combined: a ref always writes a UUID");
    c.ref = resolveTable(value["ref"], path, *ref, "ref");
  }
  c.onMissing = parsePolicy(value, "on_missing", path);
  c.onError = parsePolicy(value, "on_error", path);
  if (YAML::Node map = r_.optionalNode(value, "map", path, "a map"); map.IsDefined()) {
    std::string mpath = YamlReader::join(path, "map");
    r_.expectMap(map, mpath);
    r_.checkUnique(map, mpath);
    if (map.size() == 0) r_.fail(map, mpath, "the map lists no code");
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string from = r_.key(it->first, mpath);
      c.map.emplace_back(from, r_.scalar(it->second, YamlReader::join(mpath, from)));
    }
  }
  c.defaultValue = r_.optional(value, "default", path);
  return c;
}

void Parser::parseType(const YAML::Node& map, const std::string& path, ColumnMapping& c) const {
  auto type = r_.optional(map, "type", path);
  if (!type) return;
  // A type name is passed to the target as a cast; accept what SQL type names look like
  // (numeric(12,2), double precision, text[], public.my_type) and nothing that could not be.
  bool ok =
      !type->empty() && (std::isalpha(static_cast<unsigned char>((*type)[0])) || (*type)[0] == '_');
  for (char c : *type)
    ok = ok && (isIdentChar(c) || c == ' ' || c == '(' || c == ')' || c == ',' || c == '[' ||
                c == ']' || c == '.');
  if (!ok)
    r_.fail(map["type"], YamlReader::join(path, "type"),
            fmt::format("bad value '{}' (expected a type name such as timestamptz, boolean, "
                        "jsonb, numeric(12,2))",
                        *type));
  std::string lower = *type;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  c.typeName = *type;
  if (lower == "timestamptz" || lower == "timestamp with time zone")
    c.conversion = Conversion::Timestamptz;
  else if (lower == "boolean" || lower == "bool")
    c.conversion = Conversion::Boolean;
  else if (lower == "jsonb" || lower == "json")
    c.conversion = Conversion::Jsonb;
  else
    c.conversion = Conversion::Other;
}

RowPolicy Parser::parsePolicy(const YAML::Node& map, std::string_view key,
                              const std::string& path) const {
  // `on_missing: null` reads as a YAML null: that spelling is the policy.
  if (YAML::Node n = map[std::string(key)]; n.IsDefined() && r_.isExplicitNull(n))
    return RowPolicy::Null;
  auto v = r_.optional(map, key, path);
  if (!v || *v == "park") return RowPolicy::Park;
  if (*v == "null") return RowPolicy::Null;
  if (*v == "fail") return RowPolicy::Fail;
  r_.fail(map[std::string(key)], YamlReader::join(path, key),
          fmt::format("bad value '{}' (expected park, null or fail)", *v));
}

ConstantColumn Parser::parseConstant(const YAML::Node& n, const std::string& path) const {
  r_.expectMap(n, path);
  r_.checkKeys(n, path, {"to", "value"});
  ConstantColumn c;
  c.line = YamlReader::line(n);
  c.target = r_.required(n, "to", path);
  if (c.target.empty()) r_.fail(n["to"], YamlReader::join(path, "to"), "empty column name");
  c.value = r_.required(n, "value", path);
  return c;
}

void Parser::parseWhere(const YAML::Node& n, const std::string& path, TargetMapping& m) const {
  r_.expectMap(n, path);
  r_.checkUnique(n, path);
  if (n.size() == 0) r_.fail(n, path, "the where lists no column");
  for (auto it = n.begin(); it != n.end(); ++it) {
    WhereClause w;
    w.column = r_.key(it->first, path);
    std::string wpath = YamlReader::join(path, w.column);
    if (w.column.empty()) r_.fail(it->first, path, "empty column name");
    const YAML::Node& v = it->second;
    if (v.IsSequence()) {
      if (v.size() == 0) r_.fail(v, wpath, "the list of values is empty: no row would match");
      for (std::size_t i = 0; i < v.size(); ++i)
        w.values.push_back(r_.scalar(v[i], YamlReader::index(wpath, i)));
    } else if (v.IsScalar()) {
      w.values.push_back(r_.scalar(v, wpath));
    } else {
      r_.fail(v, wpath,
              fmt::format("expected a value or a list of values, got {} (a NULL never matches)",
                          r_.kindName(v)));
    }
    m.where.push_back(std::move(w));
  }
}

void Parser::checkTargetColumns(const TargetMapping& m, const std::string& path) const {
  std::vector<std::pair<std::string, int>> written;  // column, line
  auto add = [&](const std::string& col, int line, std::string_view what) {
    for (const auto& [c, l] : written)
      if (c == col)
        r_.fail(line, path,
                fmt::format("target column {}.{} is written twice ({}; also at line {})", m.target,
                            col, what, l));
    written.emplace_back(col, line);
  };
  if (m.mode == TargetMode::Upsert) {
    add(m.idColumn, m.line, "it receives the mapped UUID");
    if (m.legacyIdColumn) add(*m.legacyIdColumn, m.line, "legacy_id");
  }
  for (const auto& c : m.columns) {
    if (m.mode == TargetMode::Update && c.target == m.idColumn)
      r_.fail(c.line, YamlReader::join(YamlReader::join(path, "columns"), c.source),
              "a mode: update target cannot write the id column of the row it completes");
    add(c.target, c.line, "columns." + c.source);
  }
  for (const auto& s : m.set) add(s.target, s.line, "set");
}

void Parser::finish(PipelineConfig& cfg) const {
  // A table's own key: that of its first upsert target (its rows' identity), else `id`.
  for (auto& t : cfg.tables) {
    for (const auto& m : t.targets)
      if (m.mode == TargetMode::Upsert && t.keyColumns.empty()) t.keyColumns = m.keyColumns;
    if (t.keyColumns.empty()) t.keyColumns = {"id"};
    for (auto& m : t.targets)
      if (m.mode == TargetMode::Upsert) m.keyTable = t.idName;
  }
  for (std::size_t ti = 0; ti < cfg.tables.size(); ++ti) {
    const TableMapping& t = cfg.tables[ti];
    for (std::size_t i = 0; i < t.targets.size(); ++i) {
      const TargetMapping& m = t.targets[i];
      std::string path = YamlReader::index(YamlReader::join("tables", t.idName), i);
      for (const auto& c : m.columns) {
        if (!c.ref) continue;
        const TableMapping* parent = cfg.findTableByName(*c.ref);
        if (parent && parent->keyColumns.size() != 1)
          r_.fail(c.line, YamlReader::join(YamlReader::join(path, "columns"), c.source),
                  fmt::format("ref names '{}', whose key has {} columns; a ref is one column",
                              *c.ref, parent->keyColumns.size()));
      }
      if (m.mode != TargetMode::Update) continue;
      const TableMapping* keyTable = cfg.findTableByName(m.keyTable);
      if (keyTable && keyTable->keyColumns.size() != m.keyColumns.size())
        r_.fail(m.line, YamlReader::join(path, "key"),
                fmt::format("key.column lists {} column(s) but the key of {} has {} ({})",
                            m.keyColumns.size(), m.keyTable, keyTable->keyColumns.size(),
                            fmt::join(keyTable->keyColumns, ", ")));
      // Owner columns: Release finds the rows a source row filled by them (WritePlan.h), so
      // every column of the source key must be written somewhere in the target row.
      for (const auto& k : t.keyColumns) {
        bool owned = std::any_of(m.columns.begin(), m.columns.end(),
                                 [&](const ColumnMapping& c) { return c.source == k; });
        if (!owned)
          r_.fail(m.line, path,
                  fmt::format("this mode: update target has no owner column: map the key column "
                              "'{}' of {} to a column of {} (e.g. {}: {{ to: <column>, ref: {} }}) "
                              "so that the rows it filled can be released when it stops naming "
                              "them",
                              k, t.idName, m.target, k, t.idName));
      }
    }
  }
}

}  // namespace

PipelineConfig ConfigLoader::fromString(const std::string& yaml, const std::string& file,
                                        const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: not valid YAML: {}", file, e.mark.line + 1, e.msg));
  }
  Parser parser(file, yaml, env);
  return parser.parse(root);
}

}  // namespace pgmorph
