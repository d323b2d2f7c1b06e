#include "state/CheckpointStore.h"

#include <fmt/format.h>

#include <charconv>

namespace pgmorph {

CheckpointStore::CheckpointStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string CheckpointStore::table(PgConnection& target) const {
  return target.quoteQualified(schema_, "checkpoint");
}

void CheckpointStore::ensureSchema(PgConnection& target) const {
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", target.quoteIdent(schema_)));
  target.exec(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} ("
      " pipeline text PRIMARY KEY,"
      " lsn pg_lsn NOT NULL,"
      " slot text NOT NULL,"
      " applied_transactions bigint NOT NULL DEFAULT 0,"
      " updated_at timestamptz NOT NULL DEFAULT now())",
      table(target)));
}

std::optional<Checkpoint> CheckpointStore::load(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT lsn::text, slot, applied_transactions FROM {} WHERE pipeline = $1",
                  table(target)),
      {pipeline_});
  if (res.rows() == 0) return std::nullopt;
  Checkpoint cp;
  cp.lsn = Lsn::parse(res.value(0, 0));
  cp.slot = std::string(res.value(0, 1));
  auto n = res.value(0, 2);
  std::from_chars(n.data(), n.data() + n.size(), cp.appliedTransactions);
  return cp;
}

void CheckpointStore::save(PgConnection& target, Lsn lsn, const std::string& slot,
                           std::int64_t transactions) const {
  // GREATEST: a checkpoint never moves backwards, whatever order callers save in.
  std::string lsnText = lsn.str();
  std::string count = std::to_string(transactions);
  target.execParams(
      fmt::format("INSERT INTO {0} AS c (pipeline, lsn, slot, applied_transactions)"
                  " VALUES ($1, $2::pg_lsn, $3, $4::bigint)"
                  " ON CONFLICT (pipeline) DO UPDATE SET"
                  " lsn = GREATEST(c.lsn, EXCLUDED.lsn), slot = EXCLUDED.slot,"
                  " applied_transactions = c.applied_transactions + EXCLUDED.applied_transactions,"
                  " updated_at = now()",
                  table(target)),
      {pipeline_, lsnText, slot, count});
}

void CheckpointStore::reset(PgConnection& target) const {
  target.execParams(fmt::format("DELETE FROM {} WHERE pipeline = $1", table(target)), {pipeline_});
}

}  // namespace pgmorph
