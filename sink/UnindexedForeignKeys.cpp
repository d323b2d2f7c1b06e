#include "sink/UnindexedForeignKeys.h"

#include <fmt/format.h>

#include <optional>
#include <string_view>

#include "cdc/pg/ArrayLiteral.h"
#include "state/NameList.h"

namespace pgmorph {

namespace {

// An index serves the lookup when its first n key columns are the n referencing columns.
// indkey is an int2vector; its text form gives a 1-based int2[] (a cast gives a 0-based one).
constexpr std::string_view kQuery = R"(
SELECT c.conname,
       c.conrelid::regclass::text,
       c.confrelid::regclass::text,
       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
          FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
       CASE c.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
                          WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'
                          ELSE 'NO ACTION' END,
       cn.nspname, ch.relname,
       (SELECT string_agg(a.attname, E'\x1f' ORDER BY k.ord)
          FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)
  FROM pg_constraint c
  JOIN pg_class ch ON ch.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = ch.relnamespace
 WHERE c.contype = 'f'
   AND c.confrelid IN (SELECT cl.oid FROM pg_class cl
                         JOIN pg_namespace n ON n.oid = cl.relnamespace
                        WHERE n.nspname || '.' || cl.relname = ANY ($1::text[]))
   AND NOT EXISTS (
         SELECT 1 FROM pg_index i
          WHERE i.indrelid = c.conrelid AND i.indisvalid AND i.indpred IS NULL
            AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]
                @> c.conkey
            AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]
                <@ c.conkey)
 ORDER BY 2, 1)";

}  // namespace

std::string UnindexedForeignKey::suggestedIndex() const {
  return fmt::format("CREATE INDEX ON {} ({})", child, columns);
}

std::string UnindexedForeignKey::describe() const {
  return fmt::format(
      "target foreign key {} of {} ({}) onto {} (ON DELETE {}) has no index on its referencing "
      "column(s): every delete of a row of {} (or change of its key) scans {}. Suggested: {}",
      constraint, child, columns, parent, onDelete, parent, child, suggestedIndex());
}

std::vector<UnindexedForeignKey> findUnindexedForeignKeys(PgConnection& target,
                                                          const std::vector<std::string>& parents) {
  ArrayLiteral names;
  for (const auto& p : parents) names.add(p);
  PgResult res = target.execParams(kQuery, {std::optional<std::string_view>(names.view())});
  std::vector<UnindexedForeignKey> out;
  for (int r = 0; r < res.rows(); ++r)
    out.push_back({std::string(res.value(r, 0)), std::string(res.value(r, 1)),
                   std::string(res.value(r, 2)), std::string(res.value(r, 3)),
                   std::string(res.value(r, 4)), std::string(res.value(r, 5)),
                   std::string(res.value(r, 6)), splitNames(res.value(r, 7))});
  return out;
}

}  // namespace pgmorph
