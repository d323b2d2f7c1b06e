// Helpers shared by the transform tests: the real example mapping, Changes built by hand
// in wal2json's shapes, and readable access to the writes a Transformer appends.
#pragma once

#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cdc/model/Change.h"
#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"
#include "transform/TargetWrite.h"

namespace pgmorph::test {

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string dispatchMappingPath() {
  return std::string(PGMORPH_SOURCE_DIR_DEFAULT) + "/deploy/examples/dispatch/mapping.yaml";
}

inline std::string dispatchMappingText() {
  return readFile(dispatchMappingPath());
}

inline EnvLookup noEnv() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

inline PipelineConfig loadDispatch() {
  return ConfigLoader::fromString(dispatchMappingText(), "mapping.yaml", noEnv());
}

inline PipelineConfig load(const std::string& yaml, EnvLookup env = noEnv()) {
  return ConfigLoader::fromString(yaml, "mapping.yaml", env);
}

// The loader's message for a file it refuses ("" when it loads); a refusal is always the
// operator's to fix.
inline std::string errorOf(const std::string& yaml, EnvLookup env = noEnv()) {
  try {
    load(yaml, env);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    return e.what();
  }
  return "";
}

// A small valid pipeline file; the config tests break or extend one thing in it at a time.
inline const std::string kMinimalPipeline = R"yaml(pipeline: p
source:
  conninfo: "host=a"
target:
  conninfo: "host=b"
ids:
  namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b
tables:
  t:
    - target: t2
      key: id
      columns:
        a: b
)yaml";

// One column as wal2json v2 sends it. Numbers keep their exact text; nullopt is JSON null.
struct Col {
  std::string name;
  std::optional<std::string> value;
  ValueKind kind = ValueKind::String;
  std::string type = "text";
};
inline Col num(std::string name, std::string value) {
  return {std::move(name), std::move(value), ValueKind::Number, "integer"};
}
inline Col str(std::string name, std::string value, std::string type = "text") {
  return {std::move(name), std::move(value), ValueKind::String, std::move(type)};
}
inline Col null(std::string name) {
  return {std::move(name), std::nullopt, ValueKind::Null};
}

inline Change makeChange(ChangeKind kind, std::string_view table,
                         std::initializer_list<Col> columns,
                         std::initializer_list<Col> identity = {}, std::uint64_t lsn = 0x16B3748) {
  Change c;
  c.kind = kind;
  c.lsn = Lsn(lsn);
  c.setSchema("public");
  c.setTable(table);
  for (const auto& col : columns)
    c.addColumn(col.name, col.type, col.value.value_or(""), col.value ? col.kind : ValueKind::Null);
  for (const auto& col : identity)
    c.addIdentity(col.name, col.type, col.value.value_or(""),
                  col.value ? col.kind : ValueKind::Null);
  return c;
}

// The value a write gives a target column: nullopt when Absent, "NULL" when Null.
inline std::optional<std::string> valueOf(const TargetWrite& w, std::string_view column) {
  const auto& cols = w.op == WriteOp::Release ? w.plan->ownerColumns : w.plan->columns;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (cols[i] != column) continue;
    const WriteValue& v = w.values()[i];
    if (v.state == ValueState::Absent) return std::nullopt;
    if (v.state == ValueState::Null) return std::string("NULL");
    return std::string(w.text(v));
  }
  throw std::runtime_error("no column " + std::string(column) + " in the plan of " +
                           w.plan->targetTable);
}

// "upsert profiles", "release jaws" ...: the shape of a batch at a glance.
inline std::vector<std::string> summary(const WriteBatch& batch) {
  std::vector<std::string> out;
  for (const auto& w : batch.writes())
    out.push_back(std::string(toString(w.op)) + " " + w.plan->targetTable);
  return out;
}

}  // namespace pgmorph::test
