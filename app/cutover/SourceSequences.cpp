#include "app/cutover/SourceSequences.h"

#include <fmt/format.h>

namespace pgmorph {

namespace {

void addFloor(SequenceAdvancer::Floors& floors, PgConnection& source, const TableMapping& tm,
              const TargetMapping& t, const std::string& sourceColumn,
              const std::string& targetColumn) {
  auto res = source.execParams(
      "SELECT s, (SELECT p.last_value::text FROM pg_sequences p"
      "           WHERE format('%I.%I', p.schemaname, p.sequencename)::regclass = s::regclass)"
      " FROM pg_get_serial_sequence($1, $2) AS s WHERE s IS NOT NULL",
      {source.quoteQualified(tm.sourceSchema, tm.sourceTable), sourceColumn});
  if (res.rows() == 0 || res.isNull(0, 1)) return;
  SequenceFloor floor{std::stoll(std::string(res.value(0, 1))),
                      fmt::format("source sequence {}", res.value(0, 0))};
  auto key = std::make_pair(t.targetSchema + "." + t.target, targetColumn);
  auto it = floors.find(key);
  if (it == floors.end() || it->second.value < floor.value) floors[key] = floor;
}

}  // namespace

SequenceAdvancer::Floors sourceSequenceFloors(const PipelineConfig& config, PgConnection& source) {
  SequenceAdvancer::Floors floors;
  for (const auto& tm : config.tables)
    for (const auto& t : tm.targets) {
      for (const auto& c : t.columns)
        if (!c.ref && c.map.empty()) addFloor(floors, source, tm, t, c.source, c.target);
      if (t.mode == TargetMode::Upsert && t.legacyIdColumn && t.keyColumns.size() == 1)
        addFloor(floors, source, tm, t, t.keyColumns[0], *t.legacyIdColumn);
    }
  return floors;
}

}  // namespace pgmorph
