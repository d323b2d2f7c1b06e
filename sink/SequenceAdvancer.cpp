#include "sink/SequenceAdvancer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cdc/model/Errors.h"

namespace pgmorph {

namespace {

std::optional<std::int64_t> intOrNull(const PgResult& res, int row, int col) {
  if (res.isNull(row, col)) return std::nullopt;
  return std::stoll(std::string(res.value(row, col)));
}

std::pair<std::string, std::string> split(const std::string& qualified) {
  auto dot = qualified.find('.');
  if (dot == std::string::npos) return {"public", qualified};
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

}  // namespace

std::vector<SequenceSetting> SequenceAdvancer::inspect(const std::vector<std::string>& tables,
                                                       const Floors& floors) {
  return read(tables, floors, false);
}

std::vector<SequenceSetting> SequenceAdvancer::advance(const std::vector<std::string>& tables,
                                                       const Floors& floors) {
  return read(tables, floors, true);
}

std::vector<SequenceSetting> SequenceAdvancer::read(const std::vector<std::string>& tables,
                                                    const Floors& floors, bool set) {
  std::vector<SequenceSetting> out;
  for (const auto& table : tables) {
    auto [schema, name] = split(table);
    std::string rel = target_.quoteQualified(schema, name);
    auto owned = target_.execParams(
        "SELECT s.oid::regclass::text, a.attname, pg_sequence_last_value(s.oid)::text,"
        " q.seqstart::text, q.seqincrement::text, q.seqmax::text"
        " FROM pg_depend d"
        " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
        " JOIN pg_sequence q ON q.seqrelid = s.oid"
        " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
        " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
        " AND d.refobjid = to_regclass($1) AND d.deptype IN ('a', 'i')"
        " AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)"
        " ORDER BY a.attnum",
        {rel});
    for (int r = 0; r < owned.rows(); ++r) {
      SequenceSetting s;
      s.sequence = owned.value(r, 0);
      s.table = table;
      s.column = owned.value(r, 1);
      s.before = intOrNull(owned, r, 2);
      std::int64_t start = std::stoll(std::string(owned.value(r, 3)));
      std::int64_t increment = std::stoll(std::string(owned.value(r, 4)));
      std::int64_t max = std::stoll(std::string(owned.value(r, 5)));
      auto maxRes = target_.exec(
          fmt::format("SELECT max({})::text FROM {}", target_.quoteIdent(s.column), rel));
      s.dataMax = intOrNull(maxRes, 0, 0);
      if (auto f = floors.find({table, s.column}); f != floors.end()) s.floor = f->second;
      out.push_back(s);
      SequenceSetting& current = out.back();
      // A descending sequence hands out values below its data: nothing to set past.
      if (increment < 0 || !set) continue;
      std::optional<std::int64_t> highest = current.dataMax;
      if (current.floor)
        highest = std::max(highest.value_or(current.floor->value), current.floor->value);
      if (!highest) continue;  // no rows, nothing fed: whatever it hands out is free
      std::int64_t next = current.before ? *current.before + increment : start;
      if (next > *highest) continue;
      if (*highest > max - margin_)
        throw PgmorphError(
            ErrorClass::Operator,
            fmt::format("sequence {} ({}.{}) cannot be set past {} + margin {}: its maximum is "
                        "{}; lower --sequence-margin or widen the sequence (ALTER SEQUENCE ... "
                        "AS bigint)",
                        current.sequence, table, current.column, *highest, margin_, max));
      std::int64_t value = *highest + margin_;
      target_.execParams("SELECT setval($1::regclass, $2::bigint, true)",
                         {current.sequence, std::to_string(value)});
      current.after = value;
      spdlog::info(
          "cutover: sequence {} ({}.{}) set from {} to {} (data max {}{})", current.sequence, table,
          current.column, current.before ? std::to_string(*current.before) : "unused", value,
          current.dataMax ? std::to_string(*current.dataMax) : "none",
          current.floor ? fmt::format(", {} at {}", current.floor->from, current.floor->value)
                        : "");
    }
  }
  return out;
}

}  // namespace pgmorph
