// ConfigLoader: one target entry of a mapped table (tables.<table>[i]) — its target table and
// mode, key, legacy_id, columns (with type, ref, map, default and the row policies), set and
// where — and the resolution of the table names written in refs and key.table. The parser is
// declared in ConfigLoaderParser.h; the checks across entries are in ConfigLoaderChecks.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "transform/ConfigLoaderParser.h"
#include "transform/YamlReader.h"

namespace pgmorph::configloader {

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
    // A copy (a handle): `it->second` is a member of the temporary yaml-cpp's operator->
    // returns, which a reference would outlive.
    const YAML::Node v = it->second;
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

}  // namespace pgmorph::configloader
