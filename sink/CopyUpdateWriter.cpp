#include "sink/CopyUpdateWriter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "cdc/model/Errors.h"

namespace pgmorph {

CopyUpdateWriter::CopyUpdateWriter(PgConnection& target, const WritePlan& plan,
                                   const TargetTable& table)
    : conn_(target),
      plan_(plan),
      staging_(kStagingTable),
      copy_(CopyWriter::forStaging(target, plan, table, staging_)) {}

void CopyUpdateWriter::begin() {
  const auto& cols = copy_.columns();  // id, set columns..., legacy key
  std::string select;
  for (std::size_t i = 0; i + 1 < cols.size(); ++i) {
    if (i) select += ", ";
    select += conn_.quoteIdent(cols[i]);
  }
  // CREATE TABLE AS copies the target's column types without spelling them out.
  conn_.exec(fmt::format(
      "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {}, NULL::text AS {} FROM {} WITH NO "
      "DATA",
      conn_.quoteIdent(staging_), select, conn_.quoteIdent(CopyWriter::kLegacyKeyColumn),
      conn_.quoteQualified(plan_.targetSchema, plan_.targetTable)));
  copy_.begin();
}

std::uint64_t CopyUpdateWriter::finish() {
  std::uint64_t staged = copy_.finish();
  if (staged == 0) return 0;
  const auto& cols = copy_.columns();
  std::string stage = conn_.quoteIdent(staging_);
  std::string table = conn_.quoteQualified(plan_.targetSchema, plan_.targetTable);
  std::string id = conn_.quoteIdent(plan_.idColumn);
  std::string set;
  for (std::size_t i = 1; i + 1 < cols.size(); ++i) {
    if (i > 1) set += ", ";
    set += fmt::format("{0} = s.{0}", conn_.quoteIdent(cols[i]));
  }
  std::uint64_t updated = 0;
  if (!set.empty()) {
    auto res = conn_.exec(fmt::format("UPDATE {} AS t SET {} FROM {} AS s WHERE t.{} = s.{}", table,
                                      set, stage, id, conn_.quoteIdent(cols[0])));
    std::string_view n = PQcmdTuples(res.get());
    std::from_chars(n.data(), n.data() + n.size(), updated);
  }
  if (updated == staged && !set.empty()) return updated;

  std::string source = plan_.source ? plan_.source->sourceTable : std::string("(unknown)");
  std::string target = fmt::format("{}.{}", plan_.targetSchema, plan_.targetTable);
  auto missing = conn_.exec(fmt::format(
      "SELECT count(*) OVER (), s.{0}, s.{1}::text FROM {2} AS s"
      " WHERE NOT EXISTS (SELECT 1 FROM {3} AS t WHERE t.{4} = s.{1}) ORDER BY 2 LIMIT 5",
      conn_.quoteIdent(CopyWriter::kLegacyKeyColumn), conn_.quoteIdent(cols[0]), stage, table, id));
  if (missing.rows() > 0) {
    std::string examples;
    for (int r = 0; r < missing.rows(); ++r)
      examples += fmt::format("{}{} {} (names {} {})", r ? ", " : "", source, missing.value(r, 1),
                              target, missing.value(r, 2));
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("target refused the partial writes of source table {} into {}: {} source "
                    "rows name {} rows that do not exist, e.g. {}. The rows they complete must "
                    "be there first: check the mapping's key for {}",
                    source, target, missing.value(0, 0), target, examples, target));
  }
  auto dupes = conn_.exec(fmt::format(
      "SELECT s.{0}::text, string_agg(s.{1}, ', ') FROM {2} AS s GROUP BY s.{0}"
      " HAVING count(*) > 1 ORDER BY 1 LIMIT 5",
      conn_.quoteIdent(cols[0]), conn_.quoteIdent(CopyWriter::kLegacyKeyColumn), stage));
  for (int r = 0; r < dupes.rows(); ++r)
    spdlog::warn("{} row {} is named by several {} rows ({}): the snapshot kept one of them",
                 target, dupes.value(r, 0), source, dupes.value(r, 1));
  return updated;
}

}  // namespace pgmorph
