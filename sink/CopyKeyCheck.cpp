#include "sink/CopyKeyCheck.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cdc/model/Errors.h"

namespace pgmorph {

namespace {

std::string quoteTable(PgConnection& conn, const std::string& qualified) {
  auto dot = qualified.find('.');
  return conn.quoteQualified(qualified.substr(0, dot), qualified.substr(dot + 1));
}

}  // namespace

void CopyKeyCheck::check(PgConnection& target, const FkGraph& graph, const std::string& table,
                         const std::string& keyColumn, const std::string& sourceTable,
                         const std::set<std::string>& skip) {
  for (const ForeignKey* fk : graph.parentsOf(table)) {
    if (skip.count(fk->child + ':' + fk->name)) continue;
    if (fk->childColumns.empty() || fk->childColumns.size() != fk->parentColumns.size()) continue;
    std::string notNull, match, shown;
    for (std::size_t i = 0; i < fk->childColumns.size(); ++i) {
      std::string c = "c." + target.quoteIdent(fk->childColumns[i]);
      std::string p = "p." + target.quoteIdent(fk->parentColumns[i]);
      notNull += fmt::format("{}{} IS NOT NULL", i ? " AND " : "", c);
      match += fmt::format("{}{} = {}", i ? " AND " : "", p, c);
      shown += fmt::format("{}{}::text", i ? " || ', ' || " : "", c);
    }
    auto res = target.exec(
        fmt::format("SELECT count(*) OVER (), c.{}::text, {} FROM {} AS c WHERE {} AND NOT EXISTS"
                    " (SELECT 1 FROM {} AS p WHERE {}) LIMIT 5",
                    target.quoteIdent(keyColumn), shown, quoteTable(target, table), notNull,
                    quoteTable(target, fk->parent), match));
    if (res.rows() == 0) continue;
    std::string examples;
    for (int r = 0; r < res.rows(); ++r)
      examples += fmt::format("{}{} {} ({} = {})", r ? ", " : "", keyColumn, res.value(r, 1),
                              fmt::join(fk->childColumns, ", "), res.value(r, 2));
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("target refused rows of the snapshot of source table {} into {}: {} rows "
                    "violate foreign key constraint \"{}\" (their {} name {} rows that do not "
                    "exist), e.g. {}. Fix those rows on the source (or the mapping's "
                    "on_missing), then run the snapshot again",
                    sourceTable, table, res.value(0, 0), fk->name,
                    fmt::join(fk->childColumns, ", "), fk->parent, examples));
  }
}

}  // namespace pgmorph
