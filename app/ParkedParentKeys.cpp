#include "app/ParkedParentKeys.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cdc/pg/ArrayLiteral.h"
#include "cdc/pg/PgConnection.h"
#include "transform/IdMapper.h"

namespace pgmorph {

namespace {

// The source column that fills target column `target` of a table's mapping with a `ref:`.
const ColumnMapping* refColumn(const TableMapping& table, const std::string& target) {
  for (const auto& t : table.targets)
    for (const auto& c : t.columns)
      if (c.target == target && c.ref) return &c;
  return nullptr;
}

}  // namespace

std::map<std::int64_t, std::string> missingParentKeys(const PipelineConfig& config,
                                                      const std::vector<ParkedRow>& rows) {
  struct Ask {
    const TableMapping* table;
    const ColumnMapping* column;
    std::vector<const ParkedRow*> rows;
  };
  std::map<std::pair<const TableMapping*, const ColumnMapping*>, Ask> asks;
  for (const ParkedRow& r : rows) {
    if (!r.missingId || r.missingColumn.empty() || r.legacyKey.empty()) continue;
    const TableMapping* table = config.findTableByName(r.sourceTable);
    if (!table || table->keyColumns.size() != 1) continue;
    const ColumnMapping* column = refColumn(*table, r.missingColumn);
    if (!column) continue;
    auto& ask = asks[{table, column}];
    ask.table = table;
    ask.column = column;
    ask.rows.push_back(&r);
  }
  std::map<std::int64_t, std::string> out;
  // A journal reader without source.conninfo has no source to ask (never a default connection).
  if (asks.empty() || config.source.conninfo.empty()) return out;
  try {
    PgConnection source(config.source.conninfo, "source");
    IdMapper ids(Uuid::parse(config.idNamespace));
    for (auto& [_, ask] : asks) {
      ArrayLiteral keys;
      for (const ParkedRow* r : ask.rows) keys.add(r->legacyKey);
      auto res = source.execParams(
          fmt::format("SELECT {0}::text, {1}::text FROM {2} WHERE {0}::text = ANY($1::text[])",
                      source.quoteIdent(ask.table->keyColumns.front()),
                      source.quoteIdent(ask.column->source),
                      source.quoteQualified(ask.table->sourceSchema, ask.table->sourceTable)),
          {std::string(keys.view())});
      std::map<std::string, std::string> valueOf;
      for (int i = 0; i < res.rows(); ++i)
        if (!res.isNull(i, 1)) valueOf[std::string(res.value(i, 0))] = res.value(i, 1);
      for (const ParkedRow* r : ask.rows) {
        auto it = valueOf.find(r->legacyKey);
        // Only when the row still names that parent (its value maps to the parked UUID).
        if (it == valueOf.end() || ids.id(*ask.column->ref, it->second) != *r->missingId) continue;
        out[r->id] = fmt::format("{} {}", *ask.column->ref, it->second);
      }
    }
  } catch (const std::exception& e) {
    spdlog::warn(
        "cannot read the legacy keys of the missing parents from the source ({}): "
        "showing their target ids only",
        e.what());
  }
  return out;
}

}  // namespace pgmorph
