#include "app/check/SourceChecks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "cdc/SlotManager.h"

namespace pgmorph {

namespace {

struct SourceTable {
  char replicaIdentity = 'd';  // pg_class.relreplident: d default, n nothing, f full, i index
  bool hasPrimaryKey = false;
  bool selectable = false;
  std::vector<std::string> identityColumns;  // of the primary key or the replica identity index
  std::string sqlName;                       // as regclass prints it (quoted where needed)
};

std::vector<std::string> splitUnitSeparated(std::string_view joined) {
  std::vector<std::string> out;
  if (joined.empty()) return out;
  std::size_t start = 0;
  while (true) {
    auto end = joined.find('\x1f', start);
    out.emplace_back(joined.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::map<std::string, SourceTable> readTables(PgConnection& conn,
                                              const std::vector<std::string>& tables) {
  auto res = conn.execParams(
      "SELECT n.nspname || '.' || c.relname, c.relreplident, c.oid::regclass::text,"
      "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),"
      "       has_table_privilege(c.oid, 'SELECT'),"
      "       (SELECT string_agg(a.attname, E'\\x1f' ORDER BY a.attnum)"
      "          FROM pg_index i JOIN pg_attribute a"
      "            ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
      "         WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary)"
      "            OR (c.relreplident = 'i' AND i.indisreplident)))"
      "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')",
      {textArray(tables)});
  std::map<std::string, SourceTable> out;
  for (int r = 0; r < res.rows(); ++r) {
    SourceTable t;
    std::string_view ident = res.value(r, 1);
    t.replicaIdentity = ident.empty() ? 'd' : ident[0];
    t.sqlName = std::string(res.value(r, 2));
    t.hasPrimaryKey = res.value(r, 3) == "t";
    t.selectable = res.value(r, 4) == "t";
    if (!res.isNull(r, 5)) t.identityColumns = splitUnitSeparated(res.value(r, 5));
    out.emplace(std::string(res.value(r, 0)), std::move(t));
  }
  return out;
}

}  // namespace

SourceChecks::SourceChecks(const PipelineConfig& config, PgConnection& source)
    : config_(config), source_(source) {}

ColumnTypes SourceChecks::run(CheckReport& report) {
  // The database as a whole: SlotManager knows what logical decoding with wal2json needs.
  SlotManager slots(config_.source.conninfo);
  for (auto& problem : slots.sourceProblems())
    report.add({Severity::Error, Side::Source, "", "", 0, std::move(problem), ""});

  std::vector<std::string> names;
  for (const auto& tm : config_.tables) names.push_back(tm.sourceSchema + "." + tm.sourceTable);
  auto tables = readTables(source_, names);
  ColumnTypes columns = readColumnTypes(source_, names);
  auto who = source_.exec("SELECT current_user, quote_ident(current_user)");
  std::string role(who.value(0, 0)), roleSql(who.value(0, 1));

  for (const auto& tm : config_.tables) {
    std::string name = tm.sourceSchema + "." + tm.sourceTable;
    auto it = tables.find(name);
    if (it == tables.end()) {
      report.add({Severity::Error, Side::Source, name, "", tm.line,
                  "the source table does not exist (or is not a table)",
                  "fix its name under tables: (schema.table for a schema other than public), or "
                  "create it on the source"});
      continue;
    }
    const SourceTable& table = it->second;
    const std::string& quoted = table.sqlName;
    const auto& cols = columns[name];
    if (!table.selectable)
      report.add({Severity::Error, Side::Source, name, "", tm.line,
                  fmt::format("the source role \"{}\" may not read it (snapshot and verify "
                              "SELECT from it)",
                              role),
                  fmt::format("run GRANT SELECT ON {} TO {} on the source", quoted, roleSql)});
    std::set<std::string> reported;
    auto needColumn = [&](const std::string& column, int line, std::string_view what) {
      if (cols.count(column) || !reported.insert(column).second) return;
      report.add({Severity::Error, Side::Source, name, column, line,
                  fmt::format("the {} column does not exist in the source table", what),
                  "fix the column's name in the mapping, or remove the entry"});
    };
    for (const auto& target : tm.targets) {
      for (const auto& k : target.keyColumns) needColumn(k, target.line, "key");
      for (const auto& w : target.where) needColumn(w.column, target.line, "where:");
      for (const auto& c : target.columns) needColumn(c.source, c.line, "mapped");
    }

    // Updates and deletes reach wal2json with the old row's replica identity only.
    std::string fix = fmt::format(
        "run ALTER TABLE {} REPLICA IDENTITY FULL on the source (or add a primary key on ({}), "
        "or REPLICA IDENTITY USING INDEX of a unique index on it)",
        quoted, fmt::join(tm.keyColumns, ", "));
    if (table.replicaIdentity == 'n' || (table.replicaIdentity == 'd' && !table.hasPrimaryKey)) {
      report.add({Severity::Error, Side::Source, name, "", tm.line,
                  fmt::format("has {}: wal2json silently drops its updates and deletes (they carry "
                              "no key), so the target would keep rows the source changed or "
                              "deleted",
                              table.replicaIdentity == 'n'
                                  ? "REPLICA IDENTITY NOTHING"
                                  : "no primary key and REPLICA IDENTITY DEFAULT"),
                  fix});
    } else if (table.replicaIdentity != 'f') {
      std::vector<std::string> missing;
      for (const auto& k : tm.keyColumns)
        if (std::find(table.identityColumns.begin(), table.identityColumns.end(), k) ==
            table.identityColumns.end())
          missing.push_back(k);
      if (!missing.empty())
        report.add({Severity::Error, Side::Source, name, "", tm.line,
                    fmt::format("its replica identity ({}) does not hold the key column(s) {}: a "
                                "delete carries only the identity, so pgmorph cannot tell which "
                                "target row it removes",
                                fmt::join(table.identityColumns, ", "), fmt::join(missing, ", ")),
                    fix});
    }
  }
  return columns;
}

}  // namespace pgmorph
