#include "app/check/TargetChecks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "app/snapshot/SnapshotPlan.h"
#include "cdc/pg/PgError.h"
#include "sink/ForeignKeyIndexes.h"
#include "sink/TargetCatalog.h"
#include "sink/UnindexedForeignKeys.h"
#include "state/SuspendedDdlStore.h"

namespace pgmorph {

namespace {

struct TableRights {
  std::string sqlName;  // as regclass prints it
  bool select = false, insert = false, update = false, del = false;
};

std::map<std::string, TableRights> readRights(PgConnection& conn,
                                              const std::vector<std::string>& tables) {
  auto res = conn.execParams(
      "SELECT n.nspname || '.' || c.relname, c.oid::regclass::text,"
      "       has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, 'INSERT'),"
      "       has_table_privilege(c.oid, 'UPDATE'), has_table_privilege(c.oid, 'DELETE')"
      "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname || '.' || c.relname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')",
      {textArray(tables)});
  std::map<std::string, TableRights> out;
  for (int r = 0; r < res.rows(); ++r)
    out[std::string(res.value(r, 0))] =
        TableRights{std::string(res.value(r, 1)), res.value(r, 2) == "t", res.value(r, 3) == "t",
                    res.value(r, 4) == "t", res.value(r, 5) == "t"};
  return out;
}

ValueKind kindOf(const ColumnMapping& c) {
  if (c.ref) return ValueKind::Uuid;
  if (!c.map.empty()) return ValueKind::Unchecked;
  switch (c.conversion) {
    case Conversion::None:
      return ValueKind::Copy;
    case Conversion::Timestamptz:
      return ValueKind::Timestamptz;
    case Conversion::Boolean:
      return ValueKind::Boolean;
    case Conversion::Jsonb:
      return ValueKind::Jsonb;
    case Conversion::Other:
      break;
  }
  return ValueKind::Unchecked;
}

// The foreign keys of `cycle` that can neither be deferred nor written NULL first, when some
// of them close a circle of two or more tables on their own (empty otherwise): no order of
// single-table writes satisfies such a circle. A self-reference is not one (a row may name
// itself, and its rows can be ordered).
std::vector<std::string> unbreakableCircle(const FkGraph& graph, const FkCycle& cycle) {
  std::set<std::string> tables(cycle.tables.begin(), cycle.tables.end());
  std::map<std::string, std::vector<const ForeignKey*>> out;  // child -> its unbreakable keys
  for (const auto& fk : graph.foreignKeys())
    if (!fk.deferrable && !fk.nullable && fk.child != fk.parent && tables.count(fk.child) &&
        tables.count(fk.parent))
      out[fk.child].push_back(&fk);
  // Depth-first search for a back edge; the keys on the stack then form the circle.
  std::map<std::string, int> state;  // 1 on the stack, 2 done
  std::vector<const ForeignKey*> path;
  std::vector<std::string> found;
  std::function<bool(const std::string&)> visit = [&](const std::string& t) {
    state[t] = 1;
    for (const ForeignKey* fk : out[t]) {
      path.push_back(fk);
      if (state[fk->parent] == 1) {
        auto from = std::find_if(path.begin(), path.end(),
                                 [&](const ForeignKey* k) { return k->child == fk->parent; });
        for (auto it = from; it != path.end(); ++it)
          found.push_back(fmt::format("{} on {}", (*it)->name, (*it)->child));
        return true;
      }
      if (state[fk->parent] == 0 && visit(fk->parent)) return true;
      path.pop_back();
    }
    state[t] = 2;
    return false;
  };
  for (const auto& t : cycle.tables)
    if (state[t] == 0 && visit(t)) break;
  return found;
}

}  // namespace

TargetChecks::TargetChecks(const PipelineConfig& config, PgConnection& target, CheckPurpose purpose)
    : config_(config), target_(target), purpose_(purpose) {}

StateSchemaInfo TargetChecks::run(CheckReport& report, const ColumnTypes& sourceTypes) {
  StateSchemaInfo state = checkStateSchema(report);
  std::vector<std::string> tables = SnapshotPlan::targetTables(config_);
  // Foreign keys that a snapshot's bulk load dropped for now still shape the graph.
  std::vector<ForeignKey> suspended;
  if (state.suspendedTable)
    for (const auto& d :
         SuspendedDdlStore(config_.target.stateSchema, config_.pipeline).load(target_))
      if (!d.restored && d.kind == DdlKind::ForeignKey)
        suspended.push_back(ForeignKey{d.name, d.qualifiedTable(), d.columns, d.referencedTable,
                                       d.referencedColumns, d.deferrable, d.initiallyDeferred});
  TargetCatalog catalog = TargetCatalog::read(target_, tables, suspended);
  ColumnTypes types = readColumnTypes(target_, tables);
  auto rights = readRights(target_, tables);
  auto who = target_.exec("SELECT current_user, quote_ident(current_user)");
  std::string role(who.value(0, 0)), roleSql(who.value(0, 1));

  std::map<std::string, int> firstLine;  // target table -> first mapping line naming it
  std::set<std::string> missingTables;
  // Per table: the rights its mappings need, and the first line needing each.
  std::map<std::string, std::map<std::string, int>> needed;
  bool schemaErrors = false;

  for (const auto& tm : config_.tables) {
    std::string sourceName = tm.sourceSchema + "." + tm.sourceTable;
    auto sourceIt = sourceTypes.find(sourceName);
    auto sourceType = [&](const std::string& column) -> std::optional<ColumnType> {
      if (sourceIt == sourceTypes.end()) return std::nullopt;
      auto c = sourceIt->second.find(column);
      if (c == sourceIt->second.end()) return std::nullopt;
      return c->second;
    };
    for (const auto& tgt : tm.targets) {
      std::string name = tgt.targetSchema + "." + tgt.target;
      firstLine.emplace(name, tgt.line);
      const TargetTable* table = catalog.table(name);
      if (!table) {
        schemaErrors = true;
        if (missingTables.insert(name).second)
          report.add({Severity::Error, Side::Target, name, "", tgt.line,
                      "the target table does not exist (or is not a table)",
                      "create it on the target (pgmorph writes rows; it does not create your "
                      "tables), or fix target: and its schema"});
        continue;
      }
      bool partial = tgt.mode == TargetMode::Update;
      for (std::string_view right :
           partial ? std::vector<std::string_view>{"SELECT", "UPDATE"}
                   : std::vector<std::string_view>{"SELECT", "INSERT", "UPDATE", "DELETE"})
        needed[name].emplace(std::string(right), tgt.line);

      const std::string& sqlName = rights.count(name) ? rights[name].sqlName : name;
      const auto& columnTypes = types[name];
      std::set<std::string> written;
      auto checkColumn = [&](const std::string& column, int line, ValueKind kind,
                             const std::optional<ColumnType>& from) {
        written.insert(column);
        const TargetColumn* col = table->find(column);
        if (!col) {
          schemaErrors = true;
          report.add({Severity::Error, Side::Target, name, column, line,
                      "the target column does not exist",
                      "add it to the target table, or fix the column's name in the mapping"});
          return;
        }
        if (col->generated) {
          schemaErrors = true;
          report.add({Severity::Error, Side::Target, name, column, line,
                      "is a generated column: PostgreSQL refuses values for it",
                      "remove it from the mapping"});
          return;
        }
        auto type = columnTypes.find(column);
        if (type == columnTypes.end()) return;
        std::string alter =
            fmt::format("ALTER TABLE {} ALTER COLUMN {}", sqlName, target_.quoteIdent(column));
        if (auto verdict = judgeType(kind, from, type->second, alter))
          report.add({verdict->severity, Side::Target, name, column, line,
                      std::move(verdict->message), std::move(verdict->action)});
      };

      checkColumn(tgt.idColumn, tgt.line, ValueKind::Uuid, std::nullopt);
      if (tgt.legacyIdColumn)
        checkColumn(*tgt.legacyIdColumn, tgt.line,
                    tgt.keyColumns.size() == 1 ? ValueKind::Copy : ValueKind::Unchecked,
                    tgt.keyColumns.size() == 1 ? sourceType(tgt.keyColumns[0]) : std::nullopt);
      for (const auto& c : tgt.columns)
        checkColumn(c.target, c.line, kindOf(c), sourceType(c.source));
      for (const auto& s : tgt.set)
        checkColumn(s.target, s.line, ValueKind::Unchecked, std::nullopt);

      // An upsert inserts rows: every NOT NULL column without a default must get a value.
      if (!partial)
        for (const auto& col : table->columns)
          if (col.notNull && !col.hasDefault && !col.generated && !written.count(col.name))
            report.add({Severity::Error, Side::Target, name, col.name, tgt.line,
                        fmt::format("is NOT NULL without a default, and the mapping of {} does "
                                    "not write it: every insert would be refused (and parked)",
                                    sourceName),
                        "map a source column to it, give it a constant under set:, or give the "
                        "column a DEFAULT on the target"});
    }
  }

  for (const auto& [name, rightsNeeded] : needed) {
    auto have = rights.find(name);
    if (have == rights.end()) continue;
    std::vector<std::string> missing;
    int line = 0;
    for (const auto& [right, rightLine] : rightsNeeded) {
      bool ok = right == "SELECT"   ? have->second.select
                : right == "INSERT" ? have->second.insert
                : right == "UPDATE" ? have->second.update
                                    : have->second.del;
      if (!ok) {
        missing.push_back(right);
        line = line ? std::min(line, rightLine) : rightLine;
      }
    }
    if (!missing.empty())
      report.add(
          {Severity::Error, Side::Target, name, "", line,
           fmt::format("the target role \"{}\" lacks {} on it", role, fmt::join(missing, ", ")),
           fmt::format("run GRANT {} ON {} TO {} on the target", fmt::join(missing, ", "),
                       have->second.sqlName, roleSql)});
  }

  // The FK graph: its levels are the plan; each cycle is named with its constraints.
  const FkGraph& graph = catalog.graph();
  report.plan().levels = graph.levels();
  for (const auto& cycle : graph.cycles()) {
    PlanCycle pc{cycle.tables, {}, cycle.allDeferrable};
    std::vector<std::string> fixes, describe;
    for (const auto& fk : graph.foreignKeys()) {
      if (std::find(cycle.constraints.begin(), cycle.constraints.end(), fk.name) ==
              cycle.constraints.end() ||
          std::find(cycle.tables.begin(), cycle.tables.end(), fk.child) == cycle.tables.end())
        continue;
      pc.constraints.push_back({fk.name, fk.child, fk.deferrable});
      describe.push_back(fmt::format("{} on {} ({})", fk.name, fk.child,
                                     fk.deferrable ? "deferrable" : "not deferrable"));
      if (!fk.deferrable) {
        auto r = rights.find(fk.child);
        fixes.push_back(fmt::format("ALTER TABLE {} ALTER CONSTRAINT {} DEFERRABLE",
                                    r == rights.end() ? fk.child : r->second.sqlName,
                                    target_.quoteIdent(fk.name)));
      }
    }
    const std::string& first = cycle.tables.front();
    std::string message = fmt::format("the target's foreign keys form a cycle between {}: {}",
                                      fmt::join(cycle.tables, ", "), fmt::join(describe, "; "));
    auto closed = unbreakableCircle(graph, cycle);
    if (!closed.empty())
      report.add({Severity::Error, Side::Target, first, "", firstLine[first],
                  fmt::format("{}; {} are neither deferrable nor nullable and go round in a "
                              "circle, so no order of writes can insert the first of these rows "
                              "(each needs the other to exist already)",
                              message, fmt::join(closed, ", ")),
                  fmt::format("make one of them deferrable ({}), or let one of its columns "
                              "hold NULL",
                              fmt::join(fixes, "; "))});
    else if (fixes.empty())
      report.add({Severity::Info, Side::Target, first, "", firstLine[first],
                  message + "; all deferrable, so pgmorph writes the cycle with them deferred",
                  ""});
    else
      report.add({Severity::Warning, Side::Target, first, "", firstLine[first],
                  message + "; not all deferrable, so rows that name each other in a circle "
                            "are written with a non-deferrable reference NULL and set afterwards "
                            "(a NOT NULL one cannot be: such rows are refused and parked)",
                  fmt::format("make them deferrable: {}", fmt::join(fixes, "; "))});
    report.plan().cycles.push_back(std::move(pc));
  }
  // A snapshot loads the tables level by level; the plan refuses what it cannot load.
  if (purpose_ != CheckPurpose::Follow && !schemaErrors) {
    try {
      (void)SnapshotPlan::build(config_, catalog);
    } catch (const PgmorphError& e) {
      report.add({Severity::Error, Side::Target, "", "", 0,
                  fmt::format("a snapshot could not load this target: {}", e.what()), ""});
    }
  }

  // Advice: each delete of a referenced row looks its children up by the key's columns.
  for (const auto& fk : findUnindexedForeignKeys(target_, tables)) {
    std::string table = fk.child;
    for (const auto& [name, r] : rights)
      if (r.sqlName == fk.child) table = name;
    std::string what = fmt::format(
        "foreign key {} ({}) onto {} (ON DELETE {}) has no index leading with "
        "its column(s): every delete of a row of {} (or change of its key) "
        "scans {}, which slows the apply of deletes as the table grows",
        fk.constraint, fk.columns, fk.parent, fk.onDelete, fk.parent, fk.child);
    int line = firstLine.count(table) ? firstLine[table] : 0;
    if (config_.snapshot.indexForeignKeys)
      // Information only: the snapshot builds it after its copy (sink/ForeignKeyIndexes).
      report.add(
          {Severity::Info, Side::Target, table, "", line, what,
           fmt::format("the snapshot builds index {} after its copy "
                       "(snapshot.index_foreign_keys: true); once a snapshot is done, "
                       "run {} on the target yourself",
                       foreignKeyIndexName(fk.childTable, fk.columnNames), fk.suggestedIndex())});
    else
      report.add({Severity::Warning, Side::Target, table, "", line, what,
                  fmt::format("run {} on the target, or set snapshot.index_foreign_keys: true "
                              "for the snapshot to build it",
                              fk.suggestedIndex())});
  }
  return state;
}

StateSchemaInfo TargetChecks::checkStateSchema(CheckReport& report) {
  const std::string& schema = config_.target.stateSchema;
  auto res = target_.execParams(
      "SELECT has_database_privilege(current_database(), 'CREATE'), n.oid IS NOT NULL,"
      "       n.oid IS NULL OR has_schema_privilege(n.oid, 'CREATE'),"
      "       n.oid IS NULL OR has_schema_privilege(n.oid, 'USAGE'),"
      "       to_regclass(quote_ident($1) || '.checkpoint') IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.snapshot') IS NOT NULL,"
      "       to_regclass(quote_ident($1) || '.suspended_ddl') IS NOT NULL,"
      "       current_user, quote_ident(current_user), quote_ident(current_database()),"
      "       quote_ident($1)"
      "  FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1",
      {schema});
  StateSchemaInfo info;
  info.exists = res.value(0, 1) == "t";
  bool usage = res.value(0, 3) == "t";
  info.checkpointTable = usage && res.value(0, 4) == "t";
  info.snapshotTable = usage && res.value(0, 5) == "t";
  info.suspendedTable = usage && res.value(0, 6) == "t";
  std::string role(res.value(0, 7)), roleSql(res.value(0, 8)), db(res.value(0, 9)),
      schemaSql(res.value(0, 10));
  // CREATE SCHEMA IF NOT EXISTS checks the database privilege before it looks for the schema.
  if (res.value(0, 0) != "t")
    report.add({Severity::Error, Side::Target, "", "", 0,
                fmt::format("the target role \"{}\" may not create schemas in the database, and "
                            "pgmorph runs CREATE SCHEMA IF NOT EXISTS {} at every start",
                            role, schemaSql),
                fmt::format("run GRANT CREATE ON DATABASE {} TO {} on the target", db, roleSql)});
  if (info.exists && (res.value(0, 2) != "t" || !usage))
    report.add({Severity::Error, Side::Target, "", "", 0,
                fmt::format("the target role \"{}\" may not create tables in the state schema {} "
                            "(state_schema), where pgmorph keeps its checkpoint and parked rows",
                            role, schemaSql),
                fmt::format("run GRANT USAGE, CREATE ON SCHEMA {} TO {} on the target", schemaSql,
                            roleSql)});
  report.add({Severity::Info, Side::Target, "", "", 0,
              info.exists ? fmt::format("the state schema {} exists", schemaSql)
                          : fmt::format("the state schema {} does not exist yet: the first "
                                        "snapshot or follow creates it",
                                        schemaSql),
              ""});
  return info;
}

}  // namespace pgmorph
