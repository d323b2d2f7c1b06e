#include "state/SnapshotStore.h"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace pgmorph {

namespace {

SnapshotTaskState parseState(std::string_view s) {
  if (s == "pending") return SnapshotTaskState::Pending;
  if (s == "copying") return SnapshotTaskState::Copying;
  if (s == "done") return SnapshotTaskState::Done;
  throw std::runtime_error(fmt::format("unknown snapshot task state '{}' in the state schema", s));
}

template <class T>
T number(std::string_view s) {
  T v{};
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::string_view toString(SnapshotTaskState state) {
  switch (state) {
    case SnapshotTaskState::Pending:
      return "pending";
    case SnapshotTaskState::Copying:
      return "copying";
    case SnapshotTaskState::Done:
      return "done";
  }
  return "?";
}

SnapshotStore::SnapshotStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string SnapshotStore::snapshotTable(PgConnection& target) const {
  return target.quoteQualified(schema_, "snapshot");
}

std::string SnapshotStore::tasksTable(PgConnection& target) const {
  return target.quoteQualified(schema_, "snapshot_tables");
}

void SnapshotStore::ensureSchema(PgConnection& target) const {
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", target.quoteIdent(schema_)));
  target.exec(
      fmt::format("CREATE TABLE IF NOT EXISTS {} ("
                  " pipeline text PRIMARY KEY,"
                  " slot text NOT NULL,"
                  " consistent_point pg_lsn NOT NULL,"
                  " snapshot_name text NOT NULL,"
                  " status text NOT NULL CHECK (status IN ('in_progress', 'done')),"
                  " started_at timestamptz NOT NULL DEFAULT now(),"
                  " finished_at timestamptz)",
                  snapshotTable(target)));
  target.exec(
      fmt::format("CREATE TABLE IF NOT EXISTS {} ("
                  " pipeline text NOT NULL,"
                  " task text NOT NULL,"
                  " source_table text NOT NULL,"
                  " target_table text NOT NULL,"
                  " state text NOT NULL CHECK (state IN ('pending', 'copying', 'done')),"
                  " rows bigint NOT NULL DEFAULT 0,"
                  " seconds double precision NOT NULL DEFAULT 0,"
                  " ranges_total integer NOT NULL DEFAULT 0,"
                  " ranges_done integer NOT NULL DEFAULT 0,"
                  " copy_started_at timestamptz,"
                  " updated_at timestamptz NOT NULL DEFAULT now(),"
                  " PRIMARY KEY (pipeline, task))",
                  tasksTable(target)));
}

std::optional<SnapshotRecord> SnapshotStore::load(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT slot, consistent_point::text, snapshot_name, status FROM {}"
                  " WHERE pipeline = $1",
                  snapshotTable(target)),
      {pipeline_});
  if (res.rows() == 0) return std::nullopt;
  SnapshotRecord r;
  r.slot = std::string(res.value(0, 0));
  r.consistentPoint = Lsn::parse(res.value(0, 1));
  r.snapshotName = std::string(res.value(0, 2));
  r.status = res.value(0, 3) == "done" ? SnapshotStatus::Done : SnapshotStatus::InProgress;
  return r;
}

void SnapshotStore::start(PgConnection& target, const SnapshotRecord& record,
                          const std::vector<SnapshotTaskSpec>& tasks) const {
  clear(target);
  std::string lsn = record.consistentPoint.str();
  target.execParams(fmt::format("INSERT INTO {} (pipeline, slot, consistent_point, snapshot_name,"
                                " status) VALUES ($1, $2, $3::pg_lsn, $4, 'in_progress')",
                                snapshotTable(target)),
                    {pipeline_, record.slot, lsn, record.snapshotName});
  std::string insert = fmt::format(
      "INSERT INTO {} (pipeline, task, source_table, target_table, state)"
      " VALUES ($1, $2, $3, $4, 'pending')",
      tasksTable(target));
  for (const auto& t : tasks)
    target.execParams(insert, {pipeline_, t.task, t.sourceTable, t.targetTable});
}

std::vector<SnapshotTaskRow> SnapshotStore::tasks(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT task, source_table, target_table, state, rows, seconds, ranges_total,"
                  " ranges_done FROM {} WHERE pipeline = $1 ORDER BY task",
                  tasksTable(target)),
      {pipeline_});
  std::vector<SnapshotTaskRow> out;
  for (int r = 0; r < res.rows(); ++r) {
    SnapshotTaskRow row;
    row.task = std::string(res.value(r, 0));
    row.sourceTable = std::string(res.value(r, 1));
    row.targetTable = std::string(res.value(r, 2));
    row.state = parseState(res.value(r, 3));
    row.rows = number<std::int64_t>(res.value(r, 4));
    row.seconds = std::stod(std::string(res.value(r, 5)));
    row.rangesTotal = number<int>(res.value(r, 6));
    row.rangesDone = number<int>(res.value(r, 7));
    out.push_back(std::move(row));
  }
  return out;
}

void SnapshotStore::markCopying(PgConnection& target, const std::string& task, int ranges) const {
  std::string n = std::to_string(ranges);
  target.execParams(fmt::format("UPDATE {} SET state = 'copying', rows = 0, seconds = 0,"
                                " ranges_total = $3::int, ranges_done = 0,"
                                " copy_started_at = clock_timestamp(), updated_at = now()"
                                " WHERE pipeline = $1 AND task = $2",
                                tasksTable(target)),
                    {pipeline_, task, n});
}

bool SnapshotStore::addRange(PgConnection& target, const std::string& task,
                             std::int64_t rows) const {
  std::string n = std::to_string(rows);
  // One statement, row-locked: ranges of one task committing at the same time count
  // correctly, and exactly one of them sees the task become done.
  auto res = target.execParams(
      fmt::format("UPDATE {} SET rows = rows + $3::bigint, ranges_done = ranges_done + 1,"
                  " state = CASE WHEN ranges_done + 1 >= ranges_total THEN 'done' ELSE state END,"
                  " seconds = EXTRACT(EPOCH FROM clock_timestamp() - copy_started_at),"
                  " updated_at = now()"
                  " WHERE pipeline = $1 AND task = $2 AND state = 'copying' RETURNING state",
                  tasksTable(target)),
      {pipeline_, task, n});
  if (res.rows() != 1)
    throw std::logic_error(
        fmt::format("snapshot task {} of pipeline {} is not being copied", task, pipeline_));
  return res.value(0, 0) == "done";
}

void SnapshotStore::markPending(PgConnection& target, const std::string& task) const {
  target.execParams(fmt::format("UPDATE {} SET state = 'pending', rows = 0, seconds = 0,"
                                " ranges_total = 0, ranges_done = 0, copy_started_at = NULL,"
                                " updated_at = now() WHERE pipeline = $1 AND task = $2",
                                tasksTable(target)),
                    {pipeline_, task});
}

void SnapshotStore::markDone(PgConnection& target) const {
  auto res =
      target.execParams(fmt::format("UPDATE {} SET status = 'done', finished_at = clock_timestamp()"
                                    " WHERE pipeline = $1 AND status = 'in_progress' RETURNING 1",
                                    snapshotTable(target)),
                        {pipeline_});
  if (res.rows() != 1)
    throw std::logic_error(
        fmt::format("pipeline {} has no snapshot in progress to mark done", pipeline_));
}

void SnapshotStore::clear(PgConnection& target) const {
  target.execParams(fmt::format("DELETE FROM {} WHERE pipeline = $1", tasksTable(target)),
                    {pipeline_});
  target.execParams(fmt::format("DELETE FROM {} WHERE pipeline = $1", snapshotTable(target)),
                    {pipeline_});
}

}  // namespace pgmorph
