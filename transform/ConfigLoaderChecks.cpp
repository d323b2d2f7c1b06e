// ConfigLoader: the checks that look at more than one place of a pipeline file — a target
// column written twice within an entry, and, once every table is parsed (finish), each table's
// own key, the arity of refs and of key.table, and the owner columns every mode: update target
// needs to be released (WritePlan.h). The parser is declared in ConfigLoaderParser.h.
#include <fmt/format.h>

#include <algorithm>

#include "transform/ConfigLoaderParser.h"
#include "transform/YamlReader.h"

namespace pgmorph::configloader {

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

}  // namespace pgmorph::configloader
