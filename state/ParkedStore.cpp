#include "state/ParkedStore.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <mutex>
#include <set>
#include <stdexcept>

#include "cdc/pg/ArrayLiteral.h"
#include "state/ParkedValuesJson.h"

namespace pgmorph {

namespace {

// Ids as a PostgreSQL array parameter ($n::bigint[], $n::uuid[]).
std::string idArray(std::span<const std::int64_t> ids) {
  ArrayLiteral array;
  for (std::int64_t id : ids) array.add(std::to_string(id));
  return std::string(array.view());
}

std::string idArray(std::span<const Uuid> ids) {
  ArrayLiteral array;
  for (const Uuid& id : ids) array.add(id.str());
  return std::string(array.view());
}

std::optional<std::string> textOf(const std::optional<Uuid>& id) {
  if (!id) return std::nullopt;
  return id->str();
}

std::optional<Uuid> optUuid(const PgResult& res, int r, int c) {
  if (res.isNull(r, c)) return std::nullopt;
  return Uuid::parse(res.value(r, c));  // a uuid column: always canonical text
}

constexpr const char* kColumns =
    "id, kind, source_table, legacy_key, target_table, plan, op, row_id::text, has_row,"
    " write_values::text, source_change::text, reason, sqlstate, missing_table,"
    " missing_id::text, missing_column, source_lsn::text, attempts, first_seen::text,"
    " last_tried::text";

template <class T>
T number(std::string_view s) {
  T v{};
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<std::string_view> orNull(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::string_view(*s);
}

std::optional<std::string_view> orNull(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return std::string_view(s);
}

}  // namespace

ParkedStore::ParkedStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string ParkedStore::table(PgConnection& target) const {
  return target.quoteQualified(schema_, "parked");
}

void ParkedStore::ensureSchema(PgConnection& target) const {
  // Checked first so that a restart does not log a NOTICE per statement below.
  if (exists(target)) return;
  const std::string t = table(target);
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", target.quoteIdent(schema_)));
  // `json`, not jsonb: a value is kept byte for byte (jsonb would refuse a \u0000 escape).
  target.exec(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} ("
      " id bigserial PRIMARY KEY,"
      " pipeline text NOT NULL,"
      " kind text NOT NULL CHECK (kind IN ('missing_parent', 'null_reference', 'refused',"
      " 'unconvertible')),"
      " source_table text NOT NULL,"
      " legacy_key text NOT NULL,"
      " target_table text NOT NULL,"
      " plan text NOT NULL,"
      " op text NOT NULL,"
      " row_id uuid,"
      " has_row boolean NOT NULL DEFAULT true,"
      " write_values json,"
      " source_change json,"
      " reason text NOT NULL,"
      " sqlstate text NOT NULL DEFAULT '',"
      " missing_table text,"
      " missing_id uuid,"
      " missing_column text,"
      " source_lsn pg_lsn,"
      " first_seen timestamptz NOT NULL DEFAULT now(),"
      " last_tried timestamptz NOT NULL DEFAULT now(),"
      " attempts integer NOT NULL DEFAULT 1)",
      t));
  target.exec(fmt::format(
      "CREATE INDEX IF NOT EXISTS parked_row ON {} (pipeline, row_id) WHERE row_id IS NOT NULL",
      t));
  target.exec(
      fmt::format("CREATE INDEX IF NOT EXISTS parked_waiting ON {} (pipeline, "
                  "missing_table, missing_id) WHERE missing_id IS NOT NULL",
                  t));
  target.exec(fmt::format(
      "CREATE INDEX IF NOT EXISTS parked_source ON {} (pipeline, source_table, legacy_key)", t));
}

void ParkedStore::lock(PgConnection& target) const {
  target.execParams("SELECT pg_advisory_xact_lock(hashtext($1))",
                    {fmt::format("pgmorph parked {}.{}", schema_, pipeline_)});
}

std::int64_t ParkedStore::park(PgConnection& target, const ParkedRow& row) const {
  std::string values =
      row.values.empty() && row.op == "change" ? std::string() : encodeParkedValues(row.values);
  std::string lsn = row.lsn.str();
  std::string attempts = std::to_string(row.attempts);
  std::optional<std::string> rowId = textOf(row.rowId), missingId = textOf(row.missingId);
  std::optional<std::string_view> params[] = {pipeline_,
                                              toString(row.kind),
                                              row.sourceTable,
                                              row.legacyKey,
                                              row.targetTable,
                                              row.plan,
                                              row.op,
                                              orNull(rowId),
                                              row.hasRow ? "t" : "f",
                                              orNull(values),
                                              orNull(row.change),
                                              row.reason,
                                              row.sqlstate,
                                              orNull(row.missingTable),
                                              orNull(missingId),
                                              orNull(row.missingColumn),
                                              lsn,
                                              attempts};
  auto res = target.execParams(
      fmt::format("INSERT INTO {} (pipeline, kind, source_table, legacy_key, target_table, plan,"
                  " op, row_id, has_row, write_values, source_change, reason, sqlstate,"
                  " missing_table, missing_id, missing_column, source_lsn, attempts)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid, $9::boolean, $10::json,"
                  " $11::json, $12, $13, $14, $15::uuid, $16, $17::pg_lsn, $18::integer)"
                  " RETURNING id",
                  table(target)),
      params);
  warnFirst(row);
  return number<std::int64_t>(res.value(0, 0));
}

void ParkedStore::warnFirst(const ParkedRow& row) const {
  // Once per (pipeline, target table) and process: a counter inside info lines is easy to
  // miss when 2% of a snapshot parks. Said when the row is parked in the caller's open
  // transaction (a rollback may take it back; the warning stays: it is about the table).
  static std::mutex mutex;
  static std::set<std::pair<std::string, std::string>> warned;
  {
    std::lock_guard lock(mutex);
    if (!warned.emplace(pipeline_, row.targetTable).second) return;
  }
  spdlog::warn(
      "{} parks rows: the first one is {} {} ({}); later ones are not logged one by one. See "
      "them with `pgmorph parked list -c <pipeline file> --table {}`",
      row.targetTable, row.sourceTable, row.legacyKey.empty() ? "-" : row.legacyKey,
      toString(row.kind), row.targetTable);
}

std::int64_t ParkedStore::repark(PgConnection& target, std::int64_t id,
                                 const ParkedRow& row) const {
  std::string values =
      row.values.empty() && row.op == "change" ? std::string() : encodeParkedValues(row.values);
  std::string lsn = row.lsn.str();
  std::string idText = std::to_string(id);
  std::optional<std::string> rowId = textOf(row.rowId), missingId = textOf(row.missingId);
  std::optional<std::string_view> params[] = {idText,
                                              pipeline_,
                                              toString(row.kind),
                                              row.legacyKey,
                                              orNull(rowId),
                                              row.hasRow ? "t" : "f",
                                              orNull(values),
                                              orNull(row.change),
                                              row.reason,
                                              row.sqlstate,
                                              orNull(row.missingTable),
                                              orNull(missingId),
                                              orNull(row.missingColumn),
                                              lsn};
  auto res = target.execParams(
      fmt::format("UPDATE {} SET kind = $3, legacy_key = $4, row_id = $5::uuid,"
                  " has_row = $6::boolean, write_values = $7::json, source_change = $8::json,"
                  " reason = $9, sqlstate = $10, missing_table = $11, missing_id = $12::uuid,"
                  " missing_column = $13, source_lsn = $14::pg_lsn, attempts = attempts + 1,"
                  " last_tried = now()"
                  " WHERE id = $1::bigint AND pipeline = $2",
                  table(target)),
      params);
  if (number<std::size_t>(PQcmdTuples(res.get())) == 1) return id;
  return park(target, row);
}

std::size_t ParkedStore::remove(PgConnection& target, std::span<const std::int64_t> ids) const {
  if (ids.empty()) return 0;
  std::string array = idArray(ids);
  auto res = target.execParams(
      fmt::format("DELETE FROM {} WHERE pipeline = $1 AND id = ANY($2::bigint[])", table(target)),
      {pipeline_, array});
  return number<std::size_t>(PQcmdTuples(res.get()));
}

std::vector<ParkedRow> ParkedStore::select(PgConnection& target, const std::string& where,
                                           std::span<const std::optional<std::string_view>> params,
                                           std::size_t limit) const {
  auto res = target.execParams(
      fmt::format("SELECT {} FROM {} WHERE pipeline = $1 AND ({}) ORDER BY id{}", kColumns,
                  table(target), where, limit > 0 ? fmt::format(" LIMIT {}", limit) : ""),
      params);
  std::vector<ParkedRow> out;
  out.reserve(static_cast<std::size_t>(res.rows()));
  for (int r = 0; r < res.rows(); ++r) {
    ParkedRow p;
    p.id = number<std::int64_t>(res.value(r, 0));
    p.kind = parseParkKind(res.value(r, 1));
    p.sourceTable = res.value(r, 2);
    p.legacyKey = res.value(r, 3);
    p.targetTable = res.value(r, 4);
    p.plan = res.value(r, 5);
    p.op = res.value(r, 6);
    p.rowId = optUuid(res, r, 7);
    p.hasRow = res.value(r, 8) == "t";
    if (!res.isNull(r, 9)) p.values = decodeParkedValues(res.value(r, 9));
    if (!res.isNull(r, 10)) p.change = res.value(r, 10);
    p.reason = res.value(r, 11);
    p.sqlstate = res.value(r, 12);
    if (!res.isNull(r, 13)) p.missingTable = res.value(r, 13);
    p.missingId = optUuid(res, r, 14);
    if (!res.isNull(r, 15)) p.missingColumn = res.value(r, 15);
    if (!res.isNull(r, 16)) p.lsn = Lsn::parse(res.value(r, 16));
    p.attempts = number<int>(res.value(r, 17));
    p.firstSeen = res.value(r, 18);
    p.lastTried = res.value(r, 19);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<ParkedRow> ParkedStore::byIds(PgConnection& target,
                                          std::span<const std::int64_t> ids) const {
  if (ids.empty()) return {};
  std::string array = idArray(ids);
  std::optional<std::string_view> params[] = {pipeline_, array};
  return select(target, "id = ANY($2::bigint[])", params);
}

std::vector<ParkedRow> ParkedStore::onRows(PgConnection& target,
                                           std::span<const Uuid> rowIds) const {
  if (rowIds.empty()) return {};
  std::string array = idArray(rowIds);
  std::optional<std::string_view> params[] = {pipeline_, array};
  return select(target, "row_id = ANY($2::uuid[])", params);
}

std::vector<ParkedRow> ParkedStore::waitingFor(PgConnection& target, const std::string& tableName,
                                               std::span<const Uuid> ids) const {
  if (ids.empty()) return {};
  std::string array = idArray(ids);
  std::optional<std::string_view> params[] = {pipeline_, tableName, array};
  return select(target, "missing_table = $2 AND missing_id = ANY($3::uuid[])", params);
}

std::vector<ParkedRow> ParkedStore::ofPlan(PgConnection& target, const std::string& plan,
                                           const std::string& op) const {
  std::optional<std::string_view> params[] = {pipeline_, plan, op};
  return select(target, "plan = $2 AND ($3 = '' OR op = $3)", params);
}

std::optional<ParkedRow> ParkedStore::unconvertible(PgConnection& target,
                                                    const std::string& sourceTable,
                                                    const std::string& legacyKey) const {
  std::optional<std::string_view> params[] = {pipeline_, sourceTable, legacyKey};
  auto rows =
      select(target, "kind = 'unconvertible' AND source_table = $2 AND legacy_key = $3", params);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::vector<ParkedRow> ParkedStore::unconvertibleOf(PgConnection& target,
                                                    const std::string& sourceTable) const {
  std::optional<std::string_view> params[] = {pipeline_, sourceTable};
  return select(target, "kind = 'unconvertible' AND source_table = $2", params);
}

std::vector<std::pair<std::string, std::string>> ParkedStore::unconvertibleKeys(
    PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT source_table, legacy_key FROM {} WHERE pipeline = $1 AND kind = "
                  "'unconvertible'",
                  table(target)),
      {pipeline_});
  std::vector<std::pair<std::string, std::string>> out;
  for (int r = 0; r < res.rows(); ++r)
    out.emplace_back(std::string(res.value(r, 0)), std::string(res.value(r, 1)));
  return out;
}

std::vector<ParkedRow> ParkedStore::list(PgConnection& target, const Filter& filter,
                                         std::size_t limit) const {
  std::string where =
      "($2 = '' OR target_table = $2 OR split_part(target_table, '.', 2) = $2 OR "
      "source_table = $2) AND ($3 = '' OR strpos(lower(reason), lower($3)) > 0) AND ($4 = '' OR "
      "kind = $4)";
  std::string kind = filter.kind ? std::string(toString(*filter.kind)) : std::string();
  std::optional<std::string_view> params[] = {pipeline_, filter.table, filter.reason, kind};
  return select(target, where, params, limit);
}

std::int64_t ParkedStore::count(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT count(*) FROM {} WHERE pipeline = $1", table(target)), {pipeline_});
  return number<std::int64_t>(res.value(0, 0));
}

std::vector<ParkedStore::EntryRef> ParkedStore::entries(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT id, target_table FROM {} WHERE pipeline = $1 ORDER BY id", table(target)),
      {pipeline_});
  std::vector<EntryRef> out;
  out.reserve(static_cast<std::size_t>(res.rows()));
  for (int r = 0; r < res.rows(); ++r)
    out.push_back({number<std::int64_t>(res.value(r, 0)), std::string(res.value(r, 1))});
  return out;
}

std::vector<ParkedStore::TableCount> ParkedStore::countByTable(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT target_table, kind, count(*) FROM {} WHERE pipeline = $1"
                  " GROUP BY target_table, kind ORDER BY target_table, kind",
                  table(target)),
      {pipeline_});
  std::vector<TableCount> out;
  for (int r = 0; r < res.rows(); ++r)
    out.push_back({std::string(res.value(r, 0)), parseParkKind(res.value(r, 1)),
                   number<std::int64_t>(res.value(r, 2))});
  return out;
}

bool ParkedStore::any(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT EXISTS (SELECT 1 FROM {} WHERE pipeline = $1)", table(target)),
      {pipeline_});
  return res.value(0, 0) == "t";
}

std::vector<std::string> ParkedStore::waitedTables(PgConnection& target) const {
  // A loose index scan (one probe per distinct table) rather than DISTINCT over every row:
  // follow asks this periodically, and the parked table may hold many rows.
  auto res = target.execParams(
      fmt::format("WITH RECURSIVE t(name) AS ("
                  " (SELECT missing_table FROM {0} WHERE pipeline = $1 AND missing_id IS NOT NULL"
                  "   ORDER BY missing_table LIMIT 1)"
                  " UNION ALL"
                  " SELECT (SELECT missing_table FROM {0} WHERE pipeline = $1"
                  "   AND missing_id IS NOT NULL AND missing_table > t.name"
                  "   ORDER BY missing_table LIMIT 1) FROM t WHERE t.name IS NOT NULL)"
                  " SELECT name FROM t WHERE name IS NOT NULL",
                  table(target)),
      {pipeline_});
  std::vector<std::string> out;
  for (int r = 0; r < res.rows(); ++r) out.emplace_back(res.value(r, 0));
  return out;
}

bool ParkedStore::exists(PgConnection& target) const {
  auto res = target.execParams("SELECT to_regclass($1) IS NOT NULL", {table(target)});
  return res.value(0, 0) == "t";
}

}  // namespace pgmorph
