#include "sink/TargetCatalog.h"

#include <algorithm>
#include <string_view>

namespace pgmorph {

namespace {
// Splits a Postgres text array of identifiers as returned by array_agg(...)::text[] after
// we have asked for it joined by a separator that identifiers cannot contain unquoted.
std::vector<std::string> splitNames(std::string_view joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= joined.size()) {
    auto end = joined.find('\x1f', start);
    if (end == std::string_view::npos) end = joined.size();
    out.emplace_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}
}  // namespace

const TargetColumn* TargetTable::find(const std::string& column) const {
  for (const auto& c : columns)
    if (c.name == column) return &c;
  return nullptr;
}

TargetCatalog TargetCatalog::read(PgConnection& target, const std::vector<std::string>& tables,
                                  const std::vector<ForeignKey>& suspended) {
  TargetCatalog catalog;
  // One array parameter rather than SQL text built from names.
  std::string array = "{";
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (i) array += ',';
    array += '"';
    for (char ch : tables[i]) {
      if (ch == '"' || ch == '\\') array += '\\';
      array += ch;
    }
    array += '"';
  }
  array += '}';

  auto cols = target.execParams(
      "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
      "       a.attnotnull, a.attgenerated <> '' OR a.attidentity = 'a', a.atthasdef"
      "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      "  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
      " WHERE n.nspname || '.' || c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')"
      " ORDER BY n.nspname, c.relname, a.attnum",
      {array});
  for (int r = 0; r < cols.rows(); ++r) {
    std::string schema(cols.value(r, 0)), name(cols.value(r, 1));
    auto& t = catalog.tables_[schema + "." + name];
    t.schema = schema;
    t.name = name;
    t.columns.push_back(TargetColumn{std::string(cols.value(r, 2)), std::string(cols.value(r, 3)),
                                     cols.value(r, 4) == "t", cols.value(r, 5) == "t",
                                     cols.value(r, 6) == "t"});
  }

  auto fks = target.execParams(
      "SELECT con.conname, cn.nspname || '.' || cc.relname, pn.nspname || '.' || pc.relname,"
      "       con.condeferrable, con.condeferred, con.confdeltype,"
      "       (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(con.conkey)"
      "          WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid"
      "          AND a.attnum = k.attnum),"
      "       (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(con.confkey)"
      "          WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid"
      "          AND a.attnum = k.attnum),"
      // A trigger disabled by hand (ALTER TABLE ... DISABLE TRIGGER ALL) or set to fire only in
      // replica mode leaves the key unchecked.
      "       NOT con.condeferrable AND NOT EXISTS (SELECT 1 FROM pg_trigger t"
      "          WHERE t.tgconstraint = con.oid AND t.tgenabled NOT IN ('O', 'A'))"
      "  FROM pg_constraint con"
      "  JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace"
      "  JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = "
      "pc.relnamespace"
      " WHERE con.contype = 'f' AND cn.nspname || '.' || cc.relname = ANY($1::text[])"
      " ORDER BY con.conname",
      {array});
  std::vector<ForeignKey> keys;
  for (int r = 0; r < fks.rows(); ++r) {
    ForeignKey fk;
    fk.name = std::string(fks.value(r, 0));
    fk.child = std::string(fks.value(r, 1));
    fk.parent = std::string(fks.value(r, 2));
    fk.deferrable = fks.value(r, 3) == "t";
    fk.initiallyDeferred = fks.value(r, 4) == "t";
    std::string_view action = fks.value(r, 5);
    fk.onDelete = fkActionFromCatalog(action.empty() ? 'a' : action[0]);
    fk.childColumns = splitNames(fks.value(r, 6));
    fk.parentColumns = splitNames(fks.value(r, 7));
    fk.checksAtOnce = fks.value(r, 8) == "t";
    keys.push_back(std::move(fk));
  }
  for (const auto& fk : suspended) {
    bool listed = std::find(tables.begin(), tables.end(), fk.child) != tables.end();
    bool present = std::any_of(keys.begin(), keys.end(), [&](const ForeignKey& k) {
      return k.name == fk.name && k.child == fk.child;
    });
    if (listed && !present) keys.push_back(fk);
  }
  // Nullability from the columns read above (also for suspended keys, whose definition is
  // stored without it): a NOT NULL reference cannot be unlinked before a delete.
  for (auto& fk : keys) {
    const TargetTable* child = catalog.table(fk.child);
    fk.nullable = true;
    for (const auto& column : fk.childColumns)
      if (const TargetColumn* c = child ? child->find(column) : nullptr; c && c->notNull)
        fk.nullable = false;
  }
  // The same order as the query's (names compare bytewise), suspended or not.
  std::stable_sort(keys.begin(), keys.end(),
                   [](const ForeignKey& a, const ForeignKey& b) { return a.name < b.name; });
  catalog.graph_ = FkGraph(tables, std::move(keys));
  return catalog;
}

TargetCatalog TargetCatalog::of(std::vector<TargetTable> tables,
                                std::vector<ForeignKey> foreignKeys) {
  TargetCatalog catalog;
  std::vector<std::string> names;
  for (auto& t : tables) {
    names.push_back(t.qualified());
    catalog.tables_.emplace(t.qualified(), std::move(t));
  }
  catalog.graph_ = FkGraph(std::move(names), std::move(foreignKeys));
  return catalog;
}

const TargetTable* TargetCatalog::table(const std::string& qualified) const {
  auto it = tables_.find(qualified);
  return it == tables_.end() ? nullptr : &it->second;
}

}  // namespace pgmorph
