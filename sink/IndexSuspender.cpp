#include "sink/IndexSuspender.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cdc/pg/ArrayLiteral.h"
#include "cdc/pg/PgError.h"
#include "state/NameList.h"

namespace pgmorph {

namespace {

// After a failure inside BEGIN ... COMMIT: ends the transaction if the session still works;
// the failure being reported matters more than one of the rollback.
void rollbackQuietly(PgConnection& target) {
  if (!target.isOk()) return;
  try {
    target.exec("ROLLBACK");
  } catch (const std::exception&) {
  }
}

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string tableOf(PgConnection& conn, const SuspendedDdl& d) {
  return conn.quoteQualified(d.schema, d.table);
}

// The statements that re-create `d` exactly as it was recorded.
std::vector<std::string> createStatements(PgConnection& conn, const SuspendedDdl& d,
                                          bool notValid = false) {
  switch (d.kind) {
    case DdlKind::Index:
      return {d.definition};  // pg_get_indexdef: CREATE INDEX ...
    case DdlKind::Constraint:
      // The index first (with its storage parameters, which the constraint's definition
      // does not carry), then the constraint on it.
      return {d.indexDefinition,
              fmt::format("ALTER TABLE {} ADD CONSTRAINT {} {} USING INDEX {}{}{}",
                          tableOf(conn, d), conn.quoteIdent(d.name),
                          d.definition.rfind("PRIMARY KEY", 0) == 0 ? "PRIMARY KEY" : "UNIQUE",
                          conn.quoteIdent(d.name), d.deferrable ? " DEFERRABLE" : "",
                          d.initiallyDeferred ? " INITIALLY DEFERRED" : "")};
    case DdlKind::ForeignKey:
      break;
  }
  return {fmt::format("ALTER TABLE {} ADD CONSTRAINT {} {}{}", tableOf(conn, d),
                      conn.quoteIdent(d.name), d.definition, notValid ? " NOT VALID" : "")};
}

bool createdNotValid(const SuspendedDdl& d) {
  constexpr std::string_view suffix = " NOT VALID";
  return d.definition.size() >= suffix.size() &&
         d.definition.compare(d.definition.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string what(const SuspendedDdl& d) {
  switch (d.kind) {
    case DdlKind::ForeignKey:
      return fmt::format("foreign key \"{}\" of {}", d.name, d.qualifiedTable());
    case DdlKind::Constraint:
      return fmt::format("constraint \"{}\" of {} ({})", d.name, d.qualifiedTable(), d.definition);
    case DdlKind::Index:
      return fmt::format("index \"{}\" of {}", d.name, d.qualifiedTable());
  }
  return d.name;
}

[[noreturn]] void restoreFailed(const SuspendedDdl& d, const PgError& e,
                                const std::string& stateSchema) {
  if (e.errorClass() == ErrorClass::Transient) throw;
  std::string fix = d.kind == DdlKind::ForeignKey
                        ? "rows whose parent is missing"
                        : "the rows that share the key (a duplicate that the index refuses)";
  throw PgmorphError(
      ErrorClass::Operator,
      fmt::format("the snapshot cannot restore the {} that it suspended for the bulk load: {}. "
                  "Its definition stays recorded in {}.suspended_ddl: fix {} (on the source, "
                  "then take the snapshot again, or on the target), then run `pgmorph snapshot` "
                  "(or `run`) again to restore it",
                  what(d), e.what(), stateSchema, fix));
}

}  // namespace

std::size_t IndexSuspender::suspend(PgConnection& target, const std::vector<std::string>& tables,
                                    const SuspendPolicy& policy) const {
  if (tables.empty()) return 0;
  std::set<std::string> loaded(tables.begin(), tables.end());
  std::map<std::string, std::vector<std::string>> kept;  // table -> what stays, and why
  ArrayLiteral literal;
  for (const auto& t : tables) literal.add(t);
  std::string array(literal.view());
  auto fks = target.execParams(
      "SELECT con.conname, cn.nspname, cc.relname, pn.nspname || '.' || pc.relname,"
      "       pg_get_constraintdef(con.oid),"
      "       (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(con.conkey)"
      "          WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid"
      "          AND a.attnum = k.attnum),"
      "       (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(con.confkey)"
      "          WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid"
      "          AND a.attnum = k.attnum),"
      "       con.condeferrable, con.condeferred,"
      "       cc.relkind = 'r' AND con.conparentid = 0"
      "         AND obj_description(con.oid, 'pg_constraint') IS NULL,"
      "       con.conindid::text"
      "  FROM pg_constraint con"
      "  JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace"
      "  JOIN pg_class pc ON pc.oid = con.confrelid"
      "  JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
      " WHERE con.contype = 'f' AND (cn.nspname || '.' || cc.relname = ANY($1::text[])"
      "       OR pn.nspname || '.' || pc.relname = ANY($1::text[]))"
      " ORDER BY cn.nspname, cc.relname, con.conname",
      {array});
  std::vector<SuspendedDdl> drop;
  std::set<std::string> keptIndexes;  // referenced by a foreign key that stays
  // Keys of tables outside the load, by the index they reference: they only have to go
  // when that index goes.
  std::vector<std::pair<SuspendedDdl, std::string>> outside;
  for (int r = 0; r < fks.rows(); ++r) {
    if (fks.value(r, 9) != "t") {
      keptIndexes.insert(std::string(fks.value(r, 10)));
      continue;
    }
    SuspendedDdl d;
    d.kind = DdlKind::ForeignKey;
    d.name = std::string(fks.value(r, 0));
    d.schema = std::string(fks.value(r, 1));
    d.table = std::string(fks.value(r, 2));
    d.referencedTable = std::string(fks.value(r, 3));
    d.definition = std::string(fks.value(r, 4));
    d.columns = splitNames(fks.value(r, 5));
    d.referencedColumns = splitNames(fks.value(r, 6));
    d.deferrable = fks.value(r, 7) == "t";
    d.initiallyDeferred = fks.value(r, 8) == "t";
    if (!loaded.count(d.qualifiedTable())) {
      outside.emplace_back(std::move(d), std::string(fks.value(r, 10)));
      continue;
    }
    if (!policy.foreignKeyCovered(d.qualifiedTable(), d.columns, d.referencedTable,
                                  d.referencedColumns)) {
      kept[d.qualifiedTable()].push_back(
          fmt::format("foreign key {} ({}: not written from a ref: onto {} alone)", d.name,
                      fmt::join(d.columns, ", "), d.referencedTable));
      keptIndexes.insert(std::string(fks.value(r, 10)));
      continue;
    }
    drop.push_back(std::move(d));
  }
  auto idx = target.execParams(
      "SELECT n.nspname, c.relname, coalesce(con.conname, i.relname), con.oid IS NOT NULL,"
      "       CASE WHEN con.oid IS NULL THEN pg_get_indexdef(x.indexrelid)"
      "            ELSE pg_get_constraintdef(con.oid) END,"
      "       x.indexrelid::text,"
      "       c.relkind = 'r' AND x.indisvalid AND x.indisready AND NOT x.indisclustered"
      "         AND NOT x.indisreplident AND i.reltablespace = 0"
      "         AND obj_description(x.indexrelid, 'pg_class') IS NULL"
      "         AND (con.oid IS NULL OR (con.contype IN ('p', 'u') AND con.conparentid = 0"
      "              AND con.conname = i.relname"
      "              AND obj_description(con.oid, 'pg_constraint') IS NULL)),"
      "       pg_get_indexdef(x.indexrelid), coalesce(con.condeferrable, false),"
      "       coalesce(con.condeferred, false), x.indisunique,"
      "       CASE WHEN x.indexprs IS NULL AND x.indpred IS NULL THEN"
      "         (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord)"
      "            FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)"
      "            JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
      "           WHERE k.ord <= x.indnkeyatts) END"
      "  FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid"
      "  JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class i ON i.oid = x.indexrelid"
      "  LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid"
      "       AND con.contype IN ('p', 'u', 'x')"
      " WHERE n.nspname || '.' || c.relname = ANY($1::text[])"
      " ORDER BY n.nspname, c.relname, coalesce(con.contype = 'p', false) DESC, i.relname",
      {array});
  std::vector<SuspendedDdl> indexes;
  std::set<std::string> droppedIndexes;
  for (int r = 0; r < idx.rows(); ++r) {
    if (idx.value(r, 6) != "t" || keptIndexes.count(std::string(idx.value(r, 5)))) continue;
    SuspendedDdl d;
    d.schema = std::string(idx.value(r, 0));
    d.table = std::string(idx.value(r, 1));
    d.name = std::string(idx.value(r, 2));
    if (idx.value(r, 10) == "t") {
      auto columns = splitNames(idx.value(r, 11));
      if (!policy.uniqueCannotRefuse(d.qualifiedTable(), columns)) {
        kept[d.qualifiedTable()].push_back(
            columns.empty() ? fmt::format("{} (unique on expressions or with a predicate)", d.name)
                            : fmt::format("{} (unique on {}: may refuse a row; only mapped ids, or "
                                          "the legacy key of a table's one source table, cannot)",
                                          d.name, fmt::join(columns, ", ")));
        continue;
      }
    }
    d.kind = idx.value(r, 3) == "t" ? DdlKind::Constraint : DdlKind::Index;
    d.definition = std::string(idx.value(r, 4));
    d.indexDefinition = std::string(idx.value(r, 7));
    d.deferrable = idx.value(r, 8) == "t";
    d.initiallyDeferred = idx.value(r, 9) == "t";
    droppedIndexes.insert(std::string(idx.value(r, 5)));
    indexes.push_back(std::move(d));
  }
  for (auto& [d, index] : outside)
    if (droppedIndexes.count(index)) drop.push_back(std::move(d));
  std::size_t fkCount = drop.size();
  drop.insert(drop.end(), std::make_move_iterator(indexes.begin()),
              std::make_move_iterator(indexes.end()));
  for (const auto& [table, what] : kept)
    spdlog::info("snapshot bulk load: {} keeps in place (a row they refuse is parked alone): {}",
                 table, fmt::join(what, ", "));
  for (std::size_t i = 0; i < drop.size(); ++i) {
    const SuspendedDdl& d = drop[i];
    store_.recordSuspended(target, d);
    if (d.kind == DdlKind::Index)
      target.exec(fmt::format("DROP INDEX {}", target.quoteQualified(d.schema, d.name)));
    else
      target.exec(fmt::format("ALTER TABLE {} DROP CONSTRAINT {}", tableOf(target, d),
                              target.quoteIdent(d.name)));
  }
  if (!drop.empty()) {
    std::vector<std::string> names;
    for (const auto& d : drop) names.push_back(fmt::format("{} ({})", d.name, d.qualifiedTable()));
    spdlog::info(
        "snapshot bulk load: suspended {} foreign keys and {} indexes/constraints until the "
        "tables are loaded: {}",
        fkCount, drop.size() - fkCount, fmt::join(names, ", "));
  }
  return drop.size();
}

std::vector<std::string> IndexSuspender::tablesToRebuild(PgConnection& target) const {
  std::set<std::string> out;
  for (const auto& d : store_.load(target))
    if (!d.restored && d.kind != DdlKind::ForeignKey) out.insert(d.qualifiedTable());
  return {out.begin(), out.end()};
}

std::size_t IndexSuspender::restoreTable(PgConnection& target, const std::string& table) const {
  auto start = Clock::now();
  target.exec("BEGIN");
  std::vector<std::pair<std::string, double>> done;
  try {
    for (const auto& d : store_.load(target)) {
      if (d.restored || d.kind == DdlKind::ForeignKey || d.qualifiedTable() != table) continue;
      auto one = Clock::now();
      try {
        for (const auto& sql : createStatements(target, d)) target.exec(sql);
      } catch (const PgError& e) {
        restoreFailed(d, e, store_.stateSchema());
      }
      double seconds = since(one);
      store_.markRestored(target, d, seconds);
      done.emplace_back(d.name, seconds);
    }
    target.exec("COMMIT");
  } catch (...) {
    rollbackQuietly(target);
    throw;
  }
  if (!done.empty()) {
    std::vector<std::string> parts;
    for (const auto& [name, s] : done) parts.push_back(fmt::format("{} {:.2f} s", name, s));
    spdlog::info("snapshot bulk load: rebuilt {} of {} in {:.2f} s ({})", done.size(), table,
                 since(start), fmt::join(parts, ", "));
  }
  return done.size();
}

std::size_t IndexSuspender::restoreForeignKeys(PgConnection& target, int jobs,
                                               const std::function<PgConnection()>& connect) const {
  std::vector<SuspendedDdl> keys;
  for (auto& d : store_.load(target))
    if (!d.restored && d.kind == DdlKind::ForeignKey) keys.push_back(std::move(d));
  if (keys.empty()) return 0;
  auto start = Clock::now();

  // Step 1: every key back, unchecked (brief locks, no scan). A key still present from an
  // earlier attempt (added NOT VALID, then its validation failed or was cut) is kept.
  target.exec("BEGIN");
  try {
    for (const auto& d : keys) {
      auto present = target.execParams(
          "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND conname = $1"
          " AND conrelid = to_regclass($2))",
          {d.name, tableOf(target, d)});
      if (present.value(0, 0) == "t") continue;
      try {
        for (const auto& sql : createStatements(target, d, !createdNotValid(d))) target.exec(sql);
      } catch (const PgError& e) {
        restoreFailed(d, e, store_.stateSchema());
      }
      if (createdNotValid(d)) store_.markRestored(target, d, 0);  // it was never validated
    }
    target.exec("COMMIT");
  } catch (...) {
    rollbackQuietly(target);
    throw;
  }

  // Step 2: validation, one transaction per key, tables spread over the sessions.
  std::map<std::string, std::vector<const SuspendedDdl*>> byTable;
  for (const auto& d : keys)
    if (!createdNotValid(d)) byTable[d.qualifiedTable()].push_back(&d);
  std::vector<const std::vector<const SuspendedDdl*>*> work;
  for (const auto& [table, list] : byTable) work.push_back(&list);
  std::mutex mutex;
  std::size_t next = 0;
  std::exception_ptr error;
  auto validate = [&](PgConnection& conn) {
    for (;;) {
      const std::vector<const SuspendedDdl*>* list = nullptr;
      {
        std::lock_guard lock(mutex);
        if (error || next == work.size()) return;
        list = work[next++];
      }
      for (const SuspendedDdl* d : *list) {
        auto one = Clock::now();
        conn.exec("BEGIN");
        try {
          conn.exec(fmt::format("ALTER TABLE {} VALIDATE CONSTRAINT {}", tableOf(conn, *d),
                                conn.quoteIdent(d->name)));
        } catch (const PgError& e) {
          restoreFailed(*d, e, store_.stateSchema());
        }
        double seconds = since(one);
        store_.markRestored(conn, *d, seconds);
        conn.exec("COMMIT");
        spdlog::info("snapshot bulk load: validated foreign key {} of {} in {:.2f} s", d->name,
                     d->qualifiedTable(), seconds);
      }
    }
  };
  auto guarded = [&](PgConnection& conn) {
    try {
      validate(conn);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::size_t helpers = std::min<std::size_t>(work.size() > 0 ? work.size() - 1 : 0,
                                              static_cast<std::size_t>(std::max(1, jobs) - 1));
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<PgConnection>> sessions;
  try {
    for (std::size_t i = 0; i < helpers; ++i)
      sessions.push_back(std::make_unique<PgConnection>(connect()));
  } catch (const std::exception& e) {
    spdlog::warn("validating foreign keys on fewer sessions: {}", e.what());
  }
  for (auto& s : sessions) threads.emplace_back([&, conn = s.get()] { guarded(*conn); });
  guarded(target);
  for (auto& t : threads) t.join();
  if (error) {
    rollbackQuietly(target);  // a validation that failed left its session inside a transaction
    std::rethrow_exception(error);
  }
  spdlog::info("snapshot bulk load: restored {} foreign keys in {:.2f} s", keys.size(),
               since(start));
  return keys.size();
}

}  // namespace pgmorph
