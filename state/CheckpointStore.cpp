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
  target.exec(
      fmt::format("CREATE TABLE IF NOT EXISTS {} ("
                  " pipeline text PRIMARY KEY,"
                  " lsn pg_lsn NOT NULL,"
                  " slot text NOT NULL,"
                  " applied_transactions bigint NOT NULL DEFAULT 0,"
                  " updated_at timestamptz NOT NULL DEFAULT now(),"
                  " source_commit_time timestamptz,"
                  " last_applied_at timestamptz)",
                  table(target)));
  // A table created before source_commit_time and last_applied_at existed: add them (its row
  // reads NULL until the next streamed transaction is applied). Asked of the catalog first:
  // ALTER TABLE takes an ACCESS EXCLUSIVE lock even when there is nothing to add, so a long
  // reader of the checkpoint (a monitoring query) would block every start of pgmorph.
  PgResult present = target.execParams(
      "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND NOT attisdropped"
      " AND attname IN ('source_commit_time', 'last_applied_at')",
      {table(target)});
  if (present.value(0, 0) == "2") return;
  target.exec(
      fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS source_commit_time timestamptz,"
                  " ADD COLUMN IF NOT EXISTS last_applied_at timestamptz",
                  table(target)));
}

std::optional<Checkpoint> CheckpointStore::load(PgConnection& target) const {
  // source_commit_time and last_applied_at through to_jsonb: a table of an older version has no
  // such column, and a read-only caller must not add it.
  auto res = target.execParams(
      fmt::format("SELECT lsn::text, slot, applied_transactions,"
                  " (extract(epoch FROM updated_at) * 1000000)::bigint,"
                  " (extract(epoch FROM (to_jsonb(c) ->> 'source_commit_time')::timestamptz)"
                  "  * 1000000)::bigint,"
                  " (extract(epoch FROM (to_jsonb(c) ->> 'last_applied_at')::timestamptz)"
                  "  * 1000000)::bigint"
                  " FROM {} c WHERE pipeline = $1",
                  table(target)),
      {pipeline_});
  if (res.rows() == 0) return std::nullopt;
  Checkpoint cp;
  cp.lsn = Lsn::parse(res.value(0, 0));
  cp.slot = std::string(res.value(0, 1));
  auto number = [&](int col, std::int64_t& out) {
    if (res.isNull(0, col)) return;
    auto n = res.value(0, col);
    std::from_chars(n.data(), n.data() + n.size(), out);
  };
  number(2, cp.appliedTransactions);
  number(3, cp.updatedAtMicros);
  number(4, cp.sourceCommitMicros);
  number(5, cp.lastAppliedMicros);
  return cp;
}

void CheckpointStore::save(PgConnection& target, Lsn lsn, const std::string& slot,
                           std::int64_t transactions, std::int64_t sourceCommitMicros) const {
  // GREATEST: a checkpoint never moves backwards, whatever order callers save in. The commit
  // time goes with the position: it only changes when the row moves to `lsn` and one is given
  // (an idle advance carries none and keeps the last applied transaction's). last_applied_at
  // moves only when source transactions are carried (not on idle advances or snapshots).
  std::string lsnText = lsn.str();
  std::string count = std::to_string(transactions);
  // Exact to the microsecond (to_timestamp(double) can be off by one).
  std::optional<std::string> micros;
  if (sourceCommitMicros != 0) micros = std::to_string(sourceCommitMicros);
  target.execParams(
      fmt::format("INSERT INTO {0} AS c (pipeline, lsn, slot, applied_transactions,"
                  " source_commit_time, last_applied_at)"
                  " VALUES ($1, $2::pg_lsn, $3, $4::bigint,"
                  " timestamptz 'epoch' + $5::bigint * interval '1 microsecond',"
                  " CASE WHEN $4::bigint > 0 THEN now() END)"
                  " ON CONFLICT (pipeline) DO UPDATE SET"
                  " lsn = GREATEST(c.lsn, EXCLUDED.lsn), slot = EXCLUDED.slot,"
                  " applied_transactions = c.applied_transactions + EXCLUDED.applied_transactions,"
                  " updated_at = now(),"
                  " source_commit_time = CASE WHEN EXCLUDED.lsn >= c.lsn"
                  " THEN COALESCE(EXCLUDED.source_commit_time, c.source_commit_time)"
                  " ELSE c.source_commit_time END,"
                  " last_applied_at = COALESCE(EXCLUDED.last_applied_at, c.last_applied_at)",
                  table(target)),
      {pipeline_, lsnText, slot, count,
       micros ? std::optional<std::string_view>(*micros) : std::nullopt});
}

void CheckpointStore::rewind(PgConnection& target, Lsn lsn, const std::string& slot) const {
  // The one place a checkpoint moves backwards, on an operator's explicit request: the source
  // commit time no longer describes the position, so it is cleared.
  std::string lsnText = lsn.str();
  target.execParams(fmt::format("INSERT INTO {0} AS c (pipeline, lsn, slot, applied_transactions)"
                                " VALUES ($1, $2::pg_lsn, $3, 0)"
                                " ON CONFLICT (pipeline) DO UPDATE SET lsn = EXCLUDED.lsn,"
                                " slot = EXCLUDED.slot, updated_at = now(),"
                                " source_commit_time = NULL",
                                table(target)),
                    {pipeline_, lsnText, slot});
}

void CheckpointStore::reset(PgConnection& target) const {
  target.execParams(fmt::format("DELETE FROM {} WHERE pipeline = $1", table(target)), {pipeline_});
}

}  // namespace pgmorph
