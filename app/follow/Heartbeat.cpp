#include "app/follow/Heartbeat.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

Heartbeat::Heartbeat(const std::string& pipeline, std::string slot,
                     std::chrono::milliseconds interval)
    : prefix_(prefixFor(pipeline)), slot_(std::move(slot)), interval_(interval) {}

std::string Heartbeat::prefixFor(const std::string& pipeline) {
  return "pgmorph_heartbeat:" + pipeline;
}

void Heartbeat::emit(PgConnection& source, Clock::time_point now) {
  if (!enabled()) return;
  try {
    // Non-transactional: decoded as soon as the walsender reads it, in WAL order, whatever
    // transaction is open elsewhere. The content is the source's clock, so that the time the
    // position stands for is the source's, as commit times are.
    // It returns the end of the message's WAL record; the stream gives its start.
    PgResult r = source.execParams(
        "WITH t AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text AS c)"
        " SELECT pg_logical_emit_message(false, $1, c)::text, c FROM t",
        {prefix_});
    if (pending_.size() < kMaxPending)
      pending_.push_back({Lsn::parse(r.value(0, 0)), std::string(r.value(0, 1)), now});
  } catch (const PgError& e) {
    if (e.sqlstate() != sqlstate::kInsufficientPrivilege) throw;
    disable(e);
  }
}

void Heartbeat::emitFlushing(PgConnection& source) {
  // Not a heartbeat: written with slot.heartbeat_interval_ms 0 too, unless the role may not.
  if (disabled_) return;
  try {
    source.exec("BEGIN");
    source.exec("SET LOCAL synchronous_commit = on");
    source.execParams("SELECT pg_logical_emit_message(true, $1, 'flush')", {prefix_});
    source.exec("COMMIT");
  } catch (const PgError& e) {
    // Any other error fails the session (retried on a new connection).
    if (e.sqlstate() != sqlstate::kInsufficientPrivilege) throw;
    source.exec("ROLLBACK");
    disable(e);
  }
}

void Heartbeat::disable(const PgError& e) {
  disabled_ = true;
  spdlog::warn(
      "heartbeats are off: the source role may not call pg_logical_emit_message ({}). Without "
      "them a stalled walsender goes unnoticed; grant it with: GRANT EXECUTE ON FUNCTION "
      "pg_logical_emit_message(boolean, text, text) TO <source role>",
      e.what());
}

std::optional<Heartbeat::Received> Heartbeat::onMessage(const Change& change, Lsn dataStart,
                                                        Clock::time_point now) {
  if (change.kind != ChangeKind::Message || change.transactional || change.prefix() != prefix_)
    return std::nullopt;
  Received got;
  got.lsn = change.lsn.isZero() ? dataStart : change.lsn;
  std::string_view content = change.content();
  std::int64_t micros = 0;
  auto [end, ec] = std::from_chars(content.data(), content.data() + content.size(), micros);
  if (ec == std::errc() && end == content.data() + content.size()) got.sourceMicros = micros;
  // Every heartbeat written before this one has been delivered (the stream is in WAL order):
  // those whose record ends at or before this one's start, and this one itself.
  while (!pending_.empty() &&
         (pending_.front().end <= got.lsn || pending_.front().content == content)) {
    if (pending_.front().content == content) {
      got.roundTripSeconds = std::chrono::duration<double>(now - pending_.front().at).count();
      // Its record is wholly behind us: the position after it can be confirmed.
      got.lsn = std::max(got.lsn, pending_.front().end);
    }
    pending_.pop_front();
  }
  if (got.roundTripSeconds >= 0) lastRoundTrip_ = got.roundTripSeconds;
  return got;
}

const std::string& Heartbeat::checkStall(Clock::time_point now, Lsn received) {
  bool overdue = enabled() && !pending_.empty() && now - pending_.front().at > 3 * interval_;
  if (overdue && stall_.empty()) {
    double age = std::chrono::duration<double>(now - pending_.front().at).count();
    stall_ = fmt::format(
        "the walsender of slot '{}' has not delivered the heartbeat written at {} {:.1f} s ago "
        "(received up to {}): it is far behind or stuck; see pg_stat_replication on the source",
        slot_, pending_.front().end.str(), age, received.str());
    spdlog::warn("{}", stall_);
  } else if (!overdue && !stall_.empty()) {
    stall_.clear();
    spdlog::info("the walsender of slot '{}' delivers heartbeats again", slot_);
  }
  return stall_;
}

}  // namespace pgmorph
