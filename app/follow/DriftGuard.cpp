#include "app/follow/DriftGuard.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/check/SchemaDriftCheck.h"
#include "cdc/model/Errors.h"
#include "state/SourceShapeStore.h"
#include "transform/SchemaDrift.h"

namespace pgmorph {

DriftGuard::DriftGuard(const PipelineConfig& config, PgConnection& target) : config_(config) {
  auto stored = SourceShapeStore(config.target.stateSchema, config.pipeline).load(target);
  for (const auto& tm : config.tables) {
    auto it = stored.find(tm.sourceSchema + "." + tm.sourceTable);
    if (it != stored.end())
      shapes_[&tm] = Shapes{it->second.shape, expectedKinds(it->second.shape), it->second.previous};
  }
}

void DriftGuard::check(const TableMapping& table, const Change& change, std::uint32_t xid,
                       Lsn checkpoint) {
  if (&table != lastTable_) {
    lastTable_ = &table;
    auto it = shapes_.find(&table);
    last_ = it == shapes_.end() ? nullptr : &it->second;
  }
  if (!last_) return;
  if (SchemaDrift::sameColumns(last_->shape, last_->kinds, change)) {
    // A change in the accepted shape: whatever was in the stream from before the DDL is past.
    last_->previous.reset();
    return;
  }
  closer(table, *last_, change, xid, checkpoint);
}

void DriftGuard::closer(const TableMapping& table, Shapes& shapes, const Change& change,
                        std::uint32_t xid, Lsn checkpoint) {
  std::vector<Drift> drifts = SchemaDrift::ofChange(shapes.shape, change, table);
  if (drifts.empty()) return;  // an update without unchanged TOAST values, a delete's key
  if (shapes.previous && SchemaDrift::ofChange(*shapes.previous, change, table).empty())
    return;  // written before the DDL that the last start accepted
  if (SchemaDrift::decide(drifts, config_.onSchemaChange, SchemaDrift::Moment::Streaming)) {
    for (const auto& d : drifts) {
      spdlog::info("source table {}.{}: {}; ignored (on_schema_change: ignore_new_columns)",
                   table.sourceSchema, table.sourceTable, SchemaDrift::describe(d));
      shapes.shape.columns.push_back({d.column, d.newType, true});
      shapes.kinds.push_back(ExpectedKind::Any);
    }
    return;
  }
  // A retype seen by a value's kind: the new type is the catalog's (read now, for the message).
  bool unknownType = false;
  for (const auto& d : drifts)
    unknownType = unknownType || (d.kind == DriftKind::Retyped && d.newType.empty());
  // A journal reader without source.conninfo: no catalog to ask (never a default connection).
  if (unknownType && !config_.source.conninfo.empty()) {
    try {
      PgConnection source(config_.source.conninfo, "source");
      std::string name = table.sourceSchema + "." + table.sourceTable;
      auto now = readSourceShapes(source, {name});
      for (auto& d : drifts)
        if (d.kind == DriftKind::Retyped && d.newType.empty())
          if (const ColumnShape* c = now[name].find(d.column)) d.newType = c->type;
    } catch (const std::exception& e) {
      spdlog::warn("could not read the source's catalog for the new type of a column: {}",
                   e.what());
    }
  }
  std::string what, todo;
  for (const auto& d : drifts) {
    if (d.accepted) continue;
    if (!what.empty()) what += "; ";
    what += SchemaDrift::describe(d);
    if (todo.empty()) todo = SchemaDrift::action(d, config_, table);
  }
  throw PgmorphError(
      ErrorClass::Operator,
      fmt::format("schema change on source table {}.{} seen in its {} at source LSN {} (xid {}): "
                  "{} (on_schema_change: {}). Nothing of that source transaction was written; "
                  "the checkpoint stays at {}. What to do: {}",
                  table.sourceSchema, table.sourceTable, toString(change.kind), change.lsn.str(),
                  xid, what, toString(config_.onSchemaChange), checkpoint.str(), todo));
}

}  // namespace pgmorph
