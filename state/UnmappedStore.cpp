#include "state/UnmappedStore.h"

#include <fmt/format.h>

#include "cdc/pg/ArrayLiteral.h"

namespace pgmorph {

UnmappedStore::UnmappedStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string UnmappedStore::table(PgConnection& target) const {
  return target.quoteQualified(schema_, "unmapped_changes");
}

void UnmappedStore::add(PgConnection& target, const std::map<std::string, std::uint64_t>& counts) {
  if (counts.empty()) return;
  if (!ensured_) {
    // The state schema exists (the checkpoint lives in it). Created here, in the transaction
    // that also writes the first counts, rather than at every start: most pipelines never need
    // it. Remembered only once seen committed: a CREATE in a transaction that then rolls back
    // is gone, and the next call must create it again.
    auto res = target.execParams("SELECT to_regclass($1) IS NOT NULL", {table(target)});
    if (res.value(0, 0) == "t")
      ensured_ = true;
    else
      target.exec(
          fmt::format("CREATE TABLE IF NOT EXISTS {} ("
                      " pipeline text NOT NULL,"
                      " source_table text NOT NULL,"
                      " changes bigint NOT NULL,"
                      " first_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
                      " last_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
                      " PRIMARY KEY (pipeline, source_table))",
                      table(target)));
  }
  ArrayLiteral tables, changes;
  for (const auto& [name, n] : counts) {
    tables.add(name);
    changes.add(std::to_string(n));
  }
  target.execParams(
      fmt::format("INSERT INTO {} AS u (pipeline, source_table, changes) "
                  "SELECT $1, t, c FROM unnest($2::text[], $3::bigint[]) AS x (t, c) "
                  "ON CONFLICT (pipeline, source_table) DO UPDATE SET "
                  "changes = u.changes + EXCLUDED.changes, last_seen_at = clock_timestamp()",
                  table(target)),
      {pipeline_, tables.view(), changes.view()});
}

std::vector<UnmappedCount> UnmappedStore::load(PgConnection& target) const {
  std::vector<UnmappedCount> out;
  auto exists = target.execParams("SELECT to_regclass($1) IS NOT NULL", {table(target)});
  if (exists.value(0, 0) != "t") return out;
  auto res = target.execParams(
      fmt::format("SELECT source_table, changes, "
                  "(extract(epoch FROM last_seen_at) * 1000000)::bigint "
                  "FROM {} WHERE pipeline = $1 ORDER BY changes DESC, source_table",
                  table(target)),
      {pipeline_});
  for (int r = 0; r < res.rows(); ++r)
    out.push_back({std::string(res.value(r, 0)), std::stoull(std::string(res.value(r, 1))),
                   std::stoll(std::string(res.value(r, 2)))});
  return out;
}

}  // namespace pgmorph
