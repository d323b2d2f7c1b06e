#include "sink/BulkSqlBuilder.h"

#include <fmt/format.h>

#include <stdexcept>
#include <vector>

#include "sink/SqlBuilder.h"

namespace pgmorph {

namespace {
// Aliases no mapping is likely to use as a column name, so that `v.c1` is never ambiguous.
constexpr std::string_view kValues = "pgmorph_v";
constexpr std::string_view kTarget = "pgmorph_t";
constexpr std::string_view kMatched = "pgmorph_m";  // set-columns: the keys whose row exists

// `$n::T[]` for parameter n (1-based), T its element type (text unless `params` says).
std::string arrayParam(std::size_t n, BulkSqlBuilder::ParamTypes params) {
  std::string_view type = n - 1 < params.size() ? params[n - 1] : std::string_view("text");
  return fmt::format("${}::{}[]", n, type);
}

// Types whose equality means the very same value: comparing them as they are is exact. Any
// other type is compared by its text output under "C" (numeric 1.0 = 1.00, a nondeterministic
// collation's 'a' = 'A', jsonb key order: equal, yet writing the new value changes the row).
bool equalityIsIdentity(std::string_view type) {
  for (std::string_view t : {"uuid", "smallint", "integer", "bigint", "boolean", "date",
                             "timestamp with time zone", "timestamp without time zone"})
    if (type == t) return true;
  return false;
}
}  // namespace

std::string BulkSqlBuilder::differs(std::span<const std::size_t> columns,
                                    const std::function<std::string(std::size_t)>& value) const {
  std::string out;
  for (std::size_t i : columns) {
    if (!out.empty()) out += " OR ";
    if (equalityIsIdentity(types_.columns[i]))
      out += fmt::format("{}.{} IS DISTINCT FROM {}", kTarget, columns_[i], value(i));
    else
      out += fmt::format("({}.{})::text COLLATE \"C\" IS DISTINCT FROM ({})::text COLLATE \"C\"",
                         kTarget, columns_[i], value(i));
  }
  return "(" + out + ")";
}

BulkSqlBuilder::BulkSqlBuilder(const WritePlan& plan, PlanColumnTypes types,
                               const QuoteIdent& quote)
    : types_(std::move(types)) {
  std::string name = plan.targetName();
  if (plan.targetTable.empty() || plan.idColumn.empty())
    throw std::invalid_argument(
        fmt::format("write plan for target table '{}' has no table or id column", name));
  if (types_.columns.size() != plan.columns.size() ||
      types_.owners.size() != plan.ownerColumns.size() || types_.id.empty())
    throw std::invalid_argument(
        fmt::format("multi-row statements for {}: the column types do not match the plan's {} "
                    "columns and {} owner columns",
                    name, plan.columns.size(), plan.ownerColumns.size()));
  if (SqlBuilder::isUpsertTarget(plan) &&
      (plan.columns.empty() || plan.columns[0] != plan.idColumn))
    throw std::invalid_argument(fmt::format(
        "write plan for {} is an upsert plan whose first column is not its id column '{}'", name,
        plan.idColumn));
  table_ = quote(plan.targetSchema) + "." + quote(plan.targetTable);
  id_ = quote(plan.idColumn);
  for (const auto& c : plan.columns) columns_.push_back(quote(c));
  for (const auto& c : plan.ownerColumns) owners_.push_back(quote(c));
  legacy_ = SqlBuilder::unchangedOnConflict(plan);
}

void BulkSqlBuilder::checkArity(std::size_t values) const {
  if (values != columns_.size())
    throw std::invalid_argument(fmt::format("a write on {} carries {} values for {} columns",
                                            table_, values, columns_.size()));
}

BulkSqlBuilder::RowsSelect BulkSqlBuilder::rowsSelect(std::span<const WriteValue> values,
                                                      ParamTypes params) const {
  checkArity(values.size());
  RowsSelect r;
  r.names = id_;
  r.selected = "c0";
  std::string casts = fmt::format("{}.c0::{} AS c0", kValues, types_.id);
  std::string arrays = arrayParam(1, params), aliases = "c0";
  for (std::size_t i = 1; i < columns_.size(); ++i) {
    if (values[i].state == ValueState::Absent) {
      r.absent = true;
      continue;
    }
    r.present.push_back(i);
    r.names += ", " + columns_[i];
    casts += fmt::format(", {0}.c{1}::{2} AS c{1}", kValues, i, types_.columns[i]);
    arrays += ", " + arrayParam(r.present.size() + 1, params);
    aliases += fmt::format(", c{}", i);
    r.selected += fmt::format(", c{}", i);
  }
  r.rows = fmt::format("SELECT {} FROM unnest({}) AS {}({})", casts, arrays, kValues, aliases);
  return r;
}

std::string BulkSqlBuilder::upsert(std::span<const WriteValue> values, ParamTypes params) const {
  const RowsSelect r = rowsSelect(values, params);
  std::string updates, sets;
  std::vector<std::size_t> updated;  // the columns DO UPDATE SET writes
  for (std::size_t i : r.present) {
    if (!sets.empty()) sets += ", ";
    sets += fmt::format("{} = {}.c{}", columns_[i], kValues, i);
    if (i == legacy_) continue;  // SqlBuilder::unchangedOnConflict()
    updated.push_back(i);
    if (!updates.empty()) updates += ", ";
    updates += fmt::format("{0} = EXCLUDED.{0}", columns_[i]);
  }
  if (!r.absent) {
    // A row that already holds every value is left alone (the WHERE of DO UPDATE: the row is
    // locked as before, but no new version is written, no index entry added, no WAL but the
    // lock's). Source updates that change only columns the mapping drops, or set a column to
    // the value it has, are common in a migration; rewriting those rows cost as much as a
    // real change. Compared as set-columns compares (differs()).
    std::string action = "DO NOTHING";
    if (!updates.empty())
      action = fmt::format(
          "DO UPDATE SET {} WHERE {}", updates,
          differs(updated, [&](std::size_t i) { return fmt::format("EXCLUDED.{}", columns_[i]); }));
    return fmt::format("INSERT INTO {} AS {} ({}) {} ON CONFLICT ({}) {}", table_, kTarget, r.names,
                       r.rows, id_, action);
  }
  // Some column absent (unchanged TOAST): as SqlBuilder::upsert, not ON CONFLICT (NOT NULL is
  // checked on the proposed row before the conflict): update the rows that exist, insert the
  // others without the absent columns.
  if (sets.empty())
    return fmt::format(
        "WITH {0} AS ({1}) INSERT INTO {2} ({3}) SELECT c0 FROM {0} WHERE NOT EXISTS (SELECT "
        "FROM {2} AS {4} WHERE {4}.{3} = {0}.c0)",
        kValues, r.rows, table_, id_, kTarget);
  return fmt::format(
      "WITH {0} AS ({1}), pgmorph_updated AS (UPDATE {2} AS {3} SET {4} FROM {0} WHERE {3}.{5} = "
      "{0}.c0 RETURNING {3}.{5} AS id) INSERT INTO {2} ({6}) SELECT {7} FROM {0} WHERE NOT EXISTS "
      "(SELECT FROM pgmorph_updated AS u WHERE u.id = {0}.c0)",
      kValues, r.rows, table_, kTarget, sets, id_, r.names, r.selected);
}

std::string BulkSqlBuilder::insert(std::span<const WriteValue> values, ParamTypes params) const {
  const RowsSelect r = rowsSelect(values, params);
  if (r.absent) return upsert(values, params);
  return fmt::format("INSERT INTO {} ({}) {}", table_, r.names, r.rows);
}

std::string BulkSqlBuilder::remove() const {
  return fmt::format("DELETE FROM {} WHERE {} = ANY($1::{}[])", table_, id_, types_.id);
}

std::string BulkSqlBuilder::setColumns(std::span<const WriteValue> values,
                                       ParamTypes params) const {
  checkArity(values.size());
  std::string casts = fmt::format("{}.id::{} AS id", kValues, types_.id);
  std::string sets, arrays = arrayParam(1, params), aliases = "id";
  std::vector<std::size_t> present;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (values[i].state == ValueState::Absent) continue;
    present.push_back(i);
    casts += fmt::format(", {0}.c{1}::{2} AS c{1}", kValues, i, types_.columns[i]);
    arrays += ", " + arrayParam(present.size() + 1, params);
    aliases += fmt::format(", c{}", i);
    if (!sets.empty()) sets += ", ";
    sets += fmt::format("{} = {}.c{}", columns_[i], kMatched, i);
  }
  if (present.empty())
    throw std::invalid_argument(
        fmt::format("a set-columns on {} with no value present has no multi-row form", table_));
  // Whether the target row differs from the values of `source` (an alias of the key rows).
  auto differsFrom = [&](std::string_view source) {
    return differs(present, [&](std::size_t i) { return fmt::format("{}.c{}", source, i); });
  };
  // Rows that already hold the values are not rewritten: an UPDATE writes a new row version
  // even when nothing changes, and inside one long target transaction those versions cannot be
  // pruned, so every later statement on the row walks them all. `matched` still counts every
  // row that exists, so that a missing one is told from an unchanged one.
  // One index lookup per key finds the row, counts it and tells whether it changes; the UPDATE
  // then looks up only the rows that change. (It used to join every key, and the count joined
  // them all again: a second index pass, a third of the statement's time on the jaws.) The
  // UPDATE compares again, so a row changed since the lookup is judged as it then is.
  return fmt::format(
      "WITH {0} AS (SELECT {1} FROM unnest({2}) AS {0}({3})), {4} AS (SELECT {0}.*, {5} AS "
      "pgmorph_differs FROM {0} JOIN {6} AS {7} ON {7}.{8} = {0}.id), pgmorph_updated AS (UPDATE "
      "{6} AS {7} SET {9} FROM {4} WHERE {4}.pgmorph_differs AND {7}.{8} = {4}.id AND {10} "
      "RETURNING 1) SELECT (SELECT count(*) FROM {4}) AS matched, (SELECT count(*) FROM "
      "pgmorph_updated) AS updated",
      kValues, casts, arrays, aliases, kMatched, differsFrom(kValues), table_, kTarget, id_, sets,
      differsFrom(kMatched));
}

std::string BulkSqlBuilder::release(ParamTypes params) const {
  if (owners_.empty() || columns_.empty())
    throw std::invalid_argument(
        fmt::format("release on {} needs owner columns and columns to clear", table_));
  std::string sets, arrays, aliases, where;
  for (const auto& c : columns_) {
    if (!sets.empty()) sets += ", ";
    sets += c + " = NULL";
  }
  for (std::size_t i = 0; i < owners_.size(); ++i) {
    arrays += arrayParam(i + 1, params) + ", ";
    aliases += fmt::format("o{}, ", i);
    if (i) where += " AND ";
    where += fmt::format("{}.{} = {}.o{}::{}", kTarget, owners_[i], kValues, i, types_.owners[i]);
  }
  arrays += arrayParam(owners_.size() + 1, params);
  aliases += "keep";
  // IS DISTINCT FROM: a NULL keep (the release keeps no row) excludes nothing.
  where += fmt::format(" AND {}.{} IS DISTINCT FROM {}.keep::{}", kTarget, id_, kValues, types_.id);
  return fmt::format("UPDATE {} AS {} SET {} FROM unnest({}) AS {}({}) WHERE {}", table_, kTarget,
                     sets, arrays, kValues, aliases, where);
}

}  // namespace pgmorph
