#include "state/VerifyPauseStore.h"

#include <fmt/format.h>

#include <unistd.h>

#include <stdexcept>

namespace pgmorph {

namespace {

PauseState parseState(std::string_view s) {
  if (s == "hold") return PauseState::Hold;
  if (s == "holding") return PauseState::Holding;
  if (s == "advance") return PauseState::Advance;
  if (s == "at_fence") return PauseState::AtFence;
  throw std::runtime_error(fmt::format("unknown verify pause state '{}'", s));
}

}  // namespace

std::string_view toString(PauseState state) {
  switch (state) {
    case PauseState::Hold:
      return "hold";
    case PauseState::Holding:
      return "holding";
    case PauseState::Advance:
      return "advance";
    case PauseState::AtFence:
      return "at_fence";
  }
  return "?";
}

VerifyPauseStore::VerifyPauseStore(std::string stateSchema, std::string pipeline)
    : schema_(std::move(stateSchema)), pipeline_(std::move(pipeline)) {}

std::string VerifyPauseStore::table(PgConnection& target) const {
  return target.quoteQualified(schema_, "verify_pause");
}

std::string VerifyPauseStore::channel() const {
  return "pgmorph_verify_" + pipeline_;
}

bool VerifyPauseStore::exists(PgConnection& target) const {
  auto res = target.execParams("SELECT to_regclass($1) IS NOT NULL", {table(target)});
  return res.value(0, 0) == "t";
}

void VerifyPauseStore::ensureSchema(PgConnection& target) const {
  // Checked first: a follower start does not log a NOTICE per statement.
  if (exists(target)) return;
  target.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", target.quoteIdent(schema_)));
  target.exec(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} ("
      " pipeline text PRIMARY KEY,"
      " state text NOT NULL CHECK (state IN ('hold', 'holding', 'advance', 'at_fence')),"
      " fence_lsn pg_lsn,"
      " checkpoint_lsn pg_lsn,"
      " requester_pid integer NOT NULL,"
      " expires_at timestamptz NOT NULL,"
      " updated_at timestamptz NOT NULL DEFAULT clock_timestamp())",
      table(target)));
}

void VerifyPauseStore::notify(PgConnection& target) const {
  target.execParams("SELECT pg_notify($1, '')", {channel()});
}

void VerifyPauseStore::request(PgConnection& target, PauseState state, std::optional<Lsn> fence,
                               int leaseSeconds) const {
  std::string lsn = fence ? fence->str() : std::string();
  std::string lease = std::to_string(leaseSeconds);
  std::string pid = std::to_string(::getpid());
  target.execParams(
      fmt::format("INSERT INTO {} AS v (pipeline, state, fence_lsn, requester_pid, expires_at) "
                  "VALUES ($1, $2, $3::pg_lsn, $4::integer, clock_timestamp() + $5 * interval '1 "
                  "second') ON CONFLICT (pipeline) DO UPDATE SET state = EXCLUDED.state, "
                  "fence_lsn = EXCLUDED.fence_lsn, requester_pid = EXCLUDED.requester_pid, "
                  "expires_at = EXCLUDED.expires_at, updated_at = clock_timestamp()",
                  table(target)),
      {pipeline_, toString(state), fence ? std::optional<std::string_view>(lsn) : std::nullopt, pid,
       lease});
  notify(target);
}

void VerifyPauseStore::release(PgConnection& target) const {
  target.execParams(fmt::format("DELETE FROM {} WHERE pipeline = $1", table(target)), {pipeline_});
  notify(target);
}

void VerifyPauseStore::extend(PgConnection& target, int leaseSeconds) const {
  target.execParams(fmt::format("UPDATE {} SET expires_at = clock_timestamp() + $2 * interval '1 "
                                "second' WHERE pipeline = $1",
                                table(target)),
                    {pipeline_, std::to_string(leaseSeconds)});
}

void VerifyPauseStore::answer(PgConnection& target, PauseState from, PauseState to,
                              Lsn checkpoint) const {
  std::string lsn = checkpoint.str();
  target.execParams(fmt::format("UPDATE {} SET state = $3, checkpoint_lsn = $4::pg_lsn, "
                                "updated_at = clock_timestamp() WHERE pipeline = $1 AND state = $2",
                                table(target)),
                    {pipeline_, toString(from), toString(to), lsn});
  notify(target);
}

std::optional<PauseRow> VerifyPauseStore::read(PgConnection& target) const {
  auto res = target.execParams(
      fmt::format("SELECT state, fence_lsn::text, checkpoint_lsn::text, "
                  "expires_at < clock_timestamp(), requester_pid FROM {} WHERE pipeline = $1",
                  table(target)),
      {pipeline_});
  if (res.rows() == 0) return std::nullopt;
  PauseRow row;
  row.state = parseState(res.value(0, 0));
  if (!res.isNull(0, 1)) row.fence = Lsn::parse(res.value(0, 1));
  if (!res.isNull(0, 2)) row.checkpoint = Lsn::parse(res.value(0, 2));
  row.expired = res.value(0, 3) == "t";
  row.requesterPid = std::stoi(std::string(res.value(0, 4)));
  return row;
}

}  // namespace pgmorph
