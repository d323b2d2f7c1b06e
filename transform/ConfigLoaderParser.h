// ConfigLoaderParser: the parser behind ConfigLoader (ConfigLoader.h states the format and the
// checks), shared by the three files that implement it and private to them:
//   ConfigLoader.cpp         the file as a whole and its pipeline-level sections (pipeline,
//                            source, target, ids, apply, snapshot, metrics) and the list of tables;
//   ConfigLoaderMappings.cpp one target entry of a table: target, key, columns, set, where;
//   ConfigLoaderChecks.cpp   the checks that need more than one entry (target columns written
//                            twice, ref and key.table arity, owner columns).
//   ConfigLoaderSlot.cpp     the `slot:` section (heartbeat interval, max retained WAL).
//   ConfigLoaderJournal.cpp  the `journal:` section and source.journal (the change journal).
//   ConfigLoaderIgnore.cpp   the `ignore:` list (source tables left out on purpose).
// The parser makes two passes: the first collects the mapped source table names so that refs
// and key.table can be checked where they are written (with their own line).
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transform/Config.h"
#include "transform/ConfigLoader.h"
#include "transform/YamlReader.h"

namespace pgmorph::configloader {

struct QualifiedName {
  std::string schema;
  std::string table;
};

inline bool isIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

// "1073741824", "512MB", "1GB", "1.5GB", "64kB": bytes, PostgreSQL's units (1024-based).
// nullopt when the text is not such a size. ConfigLoaderSlot.cpp
std::optional<std::uint64_t> parseSize(std::string_view text);

// The parser of one file.
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
  void parseMetrics(const YAML::Node& n, MetricsConfig& metrics) const;
  void parseSlot(const YAML::Node& n, SlotConfig& slot) const;           // ConfigLoaderSlot.cpp
  void parseJournal(const YAML::Node& n, JournalConfig& journal) const;  // ConfigLoaderJournal.cpp
  // A directory as written in the file: absolute, or taken from the file's directory.
  std::string resolveDir(const std::string& written) const;
  // After collectTables (a table both mapped and ignored is refused). ConfigLoaderIgnore.cpp
  void parseIgnore(const YAML::Node& n, PipelineConfig& cfg) const;
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

}  // namespace pgmorph::configloader
