#include "sink/SqlBuilder.h"

#include <fmt/format.h>

#include <stdexcept>

namespace pgmorph {

bool SqlBuilder::isUpsertTarget(const WritePlan& plan) {
  return plan.mapping ? plan.mapping->mode == TargetMode::Upsert : plan.ownerColumns.empty();
}

std::size_t SqlBuilder::unchangedOnConflict(const WritePlan& plan) {
  if (!isUpsertTarget(plan) || !plan.mapping || !plan.mapping->legacyIdColumn) return SIZE_MAX;
  if (plan.columns.size() < 3 || plan.columns[1] != *plan.mapping->legacyIdColumn) return SIZE_MAX;
  return 1;
}

SqlBuilder::SqlBuilder(const WritePlan& plan, const QuoteIdent& quote) {
  std::string name = plan.targetName();
  if (plan.targetTable.empty() || plan.idColumn.empty())
    throw std::invalid_argument(
        fmt::format("write plan for target table '{}' has no table or id column", name));
  upsertTarget_ = isUpsertTarget(plan);
  if (upsertTarget_ && (plan.columns.empty() || plan.columns[0] != plan.idColumn))
    throw std::invalid_argument(
        fmt::format("write plan for {} is an upsert plan whose first column is not its id "
                    "column '{}'",
                    name, plan.idColumn));
  table_ = quote(plan.targetSchema) + "." + quote(plan.targetTable);
  id_ = quote(plan.idColumn);
  for (const auto& c : plan.columns) columns_.push_back(quote(c));
  for (const auto& c : plan.ownerColumns) owners_.push_back(quote(c));
  for (const auto& [c, value] : plan.constantOwners) constantOwners_.push_back(quote(c));
  legacy_ = unchangedOnConflict(plan);
}

std::string SqlBuilder::upsert(std::span<const WriteValue> values) const {
  checkArity(values.size());
  std::string names = id_, params = "$1", updates, sets;
  int n = 1;
  bool absent = false;
  for (std::size_t i = 1; i < columns_.size(); ++i) {
    if (values[i].state == ValueState::Absent) {
      absent = true;
      continue;
    }
    names += ", " + columns_[i];
    params += fmt::format(", ${}", ++n);
    if (!sets.empty()) sets += ", ";
    sets += fmt::format("{} = ${}", columns_[i], n);
    if (i == legacy_) continue;  // see unchangedOnConflict()
    if (!updates.empty()) updates += ", ";
    updates += fmt::format("{0} = EXCLUDED.{0}", columns_[i]);
  }
  if (!absent) {
    // A plan with no column but its id has nothing to update.
    std::string action = updates.empty() ? "DO NOTHING" : "DO UPDATE SET " + updates;
    return fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {}", table_, names, params,
                       id_, action);
  }
  // Some column is absent (an unchanged TOAST value). INSERT ... ON CONFLICT cannot carry
  // it: PostgreSQL checks NOT NULL on the proposed row before it looks for the conflict, so
  // leaving a NOT NULL column out fails even when the row exists. Update the existing row
  // instead, and insert (without the absent columns) only when there is none. The UPDATE
  // comes first so that it gives every parameter its type; the final SELECT makes the
  // statement's row count the number of rows written either way.
  if (sets.empty())
    return fmt::format(
        "WITH found AS (SELECT 1 FROM {0} WHERE {1} = $1), inserted AS (INSERT INTO {0} ({1}) "
        "SELECT $1 WHERE NOT EXISTS (SELECT FROM found) RETURNING 1) SELECT 1 FROM inserted",
        table_, id_);
  return fmt::format(
      "WITH updated AS (UPDATE {0} SET {1} WHERE {2} = $1 RETURNING 1), inserted AS (INSERT INTO "
      "{0} ({3}) SELECT {4} WHERE NOT EXISTS (SELECT FROM updated) RETURNING 1) SELECT 1 FROM "
      "updated UNION ALL SELECT 1 FROM inserted",
      table_, sets, id_, names, params);
}

void SqlBuilder::checkArity(std::size_t values) const {
  if (values != columns_.size())
    throw std::invalid_argument(fmt::format("a write on {} carries {} values for {} columns",
                                            table_, values, columns_.size()));
}

std::string SqlBuilder::remove() const {
  return fmt::format("DELETE FROM {} WHERE {} = $1", table_, id_);
}

std::string SqlBuilder::setColumns(std::span<const WriteValue> values) const {
  checkArity(values.size());
  std::string sets;
  int n = 0;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (values[i].state == ValueState::Absent) continue;
    if (!sets.empty()) sets += ", ";
    sets += fmt::format("{} = ${}", columns_[i], ++n);
  }
  if (sets.empty()) return fmt::format("SELECT FROM {} WHERE {} = $1", table_, id_);
  return fmt::format("UPDATE {} SET {} WHERE {} = ${}", table_, sets, id_, n + 1);
}

std::string SqlBuilder::nullAll() const {
  std::string sets;
  for (const auto& c : columns_) {
    if (!sets.empty()) sets += ", ";
    sets += c + " = NULL";
  }
  return "SET " + sets;
}

std::string SqlBuilder::release(bool keepRow) const {
  if (owners_.empty() || columns_.empty())
    throw std::invalid_argument(
        fmt::format("release on {} needs owner columns and columns to clear", table_));
  std::string where;
  for (std::size_t i = 0; i < owners_.size(); ++i) {
    if (i) where += " AND ";
    where += fmt::format("{} = ${}", owners_[i], i + 1);
  }
  if (keepRow) where += fmt::format(" AND {} <> ${}", id_, owners_.size() + 1);
  return fmt::format("UPDATE {} {} WHERE {}", table_, nullAll(), where);
}

std::string SqlBuilder::truncate() const {
  // DELETE, not TRUNCATE: other tables reference the target, and TRUNCATE would cascade to
  // them or fail; the source TRUNCATE removes what this table fed and nothing else.
  if (upsertTarget_) return fmt::format("DELETE FROM {}", table_);
  if (columns_.empty())
    throw std::invalid_argument(
        fmt::format("truncate of partial target {} has no columns", table_));
  std::string where;
  if (!constantOwners_.empty()) {
    for (std::size_t i = 0; i < constantOwners_.size(); ++i) {
      if (i) where += " AND ";
      where += fmt::format("{} = ${}", constantOwners_[i], i + 1);
    }
  } else {
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (i) where += " OR ";
      where += columns_[i] + " IS NOT NULL";
    }
  }
  return fmt::format("UPDATE {} {} WHERE {}", table_, nullAll(), where);
}

}  // namespace pgmorph
