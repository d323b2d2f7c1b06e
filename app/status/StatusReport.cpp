// StatusReport: the derived figures (lag, retained WAL) and the human report.
#include "app/status/StatusReport.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <numeric>

namespace pgmorph {

std::string formatMicros(std::int64_t unixMicros, bool iso) {
  using namespace std::chrono;
  auto micros = unixMicros % 1'000'000;
  auto seconds = unixMicros / 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  sys_seconds t{std::chrono::seconds(seconds)};
  if (iso) return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06}Z", t, micros);
  return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:06} UTC", t, micros);
}

std::optional<std::uint64_t> StatusReport::lagBytes() const {
  if (!checkpoint || !currentLsn) return std::nullopt;
  // pg_wal_lsn_diff(current, checkpoint), 0 when the checkpoint is at or past it (an idle
  // advance may have moved it to a position the source reported a moment ago).
  if (*currentLsn <= checkpoint->lsn) return 0;
  return currentLsn->value() - checkpoint->lsn.value();
}

LagSeconds StatusReport::lagSeconds() const {
  auto bytes = lagBytes();
  if (!bytes) {
    std::string why = !source.reachable   ? "the source could not be reached"
                      : !target.reachable ? "the target could not be reached"
                                          : "no checkpoint yet (nothing applied)";
    return {std::nullopt, "unknown", why};
  }
  if (*bytes == 0)
    return {0.0, "caught_up", "nothing unapplied: the checkpoint is at the source's WAL position"};
  if (checkpoint->sourceCommitMicros == 0)
    return {std::nullopt, "unknown",
            "the checkpoint carries no source time yet (only a snapshot's consistent point or "
            "keepalive advances so far, or a row written by an older pgmorph)"};
  double s = static_cast<double>(sourceNowMicros - checkpoint->sourceCommitMicros) / 1e6;
  return {s < 0 ? 0.0 : s, "since_last_applied_commit",
          "at most: the source's clock minus the source time of the checkpoint (the last "
          "applied commit, or the last confirmed heartbeat): what is unapplied came after it"};
}

std::optional<std::uint64_t> StatusReport::retainedWalBytes() const {
  if (!slot || !currentLsn || slot->restartLsn.isZero() || *currentLsn < slot->restartLsn)
    return std::nullopt;
  return currentLsn->value() - slot->restartLsn.value();
}

std::optional<bool> StatusReport::retainedWalOverLimit() const {
  auto retained = retainedWalBytes();
  if (maxRetainedWalBytes == 0 || !retained) return std::nullopt;
  return *retained > maxRetainedWalBytes;
}

std::int64_t StatusReport::parkedTotal() const {
  return std::accumulate(parked.begin(), parked.end(), std::int64_t{0},
                         [](std::int64_t n, const auto& c) { return n + c.rows; });
}

namespace {

// One aligned "  label   value" line.
std::string row(std::string_view label, std::string_view value) {
  return fmt::format("  {:<22} {}\n", label, value);
}

std::string bytes(std::uint64_t n) {
  if (n < 10 * 1024) return fmt::format("{} bytes", n);
  if (n < 10ull * 1024 * 1024) return fmt::format("{} bytes ({:.1f} kB)", n, n / 1024.0);
  return fmt::format("{} bytes ({:.1f} MB)", n, n / (1024.0 * 1024.0));
}

std::string_view snapshotStatus(SnapshotStatus s) {
  return s == SnapshotStatus::Done ? "done" : "in_progress";
}

}  // namespace

std::string StatusReport::text() const {
  std::string out = fmt::format("pgmorph status of {} (pipeline {})\n", file, pipeline);
  out += row("source", !sourceConfigured  ? source.error
                       : source.reachable ? fmt::format("reachable, current WAL position {}",
                                                        currentLsn ? currentLsn->str() : "unknown")
                                          : "UNREACHABLE: " + source.error);
  out +=
      row("target", target.reachable ? fmt::format("reachable, state schema {}{}", stateSchema,
                                                   stateSchemaExists ? "" : " (does not exist yet)")
                                     : "UNREACHABLE: " + target.error);

  out += "\ncheckpoint\n";
  if (!target.reachable) {
    out += row("position", "unknown (target unreachable)");
  } else if (!checkpoint) {
    out += row("position", "none yet (nothing applied)");
  } else {
    out += row("lsn", checkpoint->lsn.str());
    out += row("last commit applied",
               checkpoint->sourceCommitMicros
                   ? formatMicros(checkpoint->sourceCommitMicros, false) + " (source commit time)"
                   : "unknown (no streamed transaction recorded one)");
    out += row("last applied at", checkpoint->lastAppliedMicros
                                      ? formatMicros(checkpoint->lastAppliedMicros, false)
                                      : "never (no streamed transaction yet)");
    out += row("checkpoint moved at", formatMicros(checkpoint->updatedAtMicros, false));
    out += row("transactions applied", std::to_string(checkpoint->appliedTransactions));
  }
  auto lag = lagBytes();
  LagSeconds secs = lagSeconds();
  out += row("lag", lag ? bytes(*lag) : "unknown");
  out += row("lag seconds", secs.seconds ? fmt::format("{:.3f} s ({})", *secs.seconds, secs.note)
                                         : "unknown: " + secs.note);

  out += fmt::format("\nslot {}\n", slotName);
  if (journal && journal->role == "reads") {
    out += row("state", "not used: the pipeline reads a journal (`pgmorph journal` owns the slot)");
  } else if (!source.reachable) {
    out += row("state", "unknown (source unreachable)");
  } else if (!slot) {
    out += row("state", "does not exist (the first snapshot, run or follow creates it)");
  } else {
    out += row("state", slot->active ? fmt::format("active, pid {}: a pgmorph (or another "
                                                   "consumer) is streaming from it now",
                                                   slot->activePid)
                                     : "not active: no pgmorph is streaming from it");
    out += row("plugin", slot->plugin);
    out += row("wal_status", slot->walStatus.empty() ? "unknown" : slot->walStatus);
    out += row("confirmed_flush_lsn", slot->confirmedFlush.str());
    out += row("restart_lsn", slot->restartLsn.str());
    auto retained = retainedWalBytes();
    out += row("retained WAL", retained ? bytes(*retained) : "unknown");
    if (maxRetainedWalBytes) out += row("max_retained_wal", bytes(maxRetainedWalBytes));
    if (retainedWalOverLimit().value_or(false))
      out += row("WARNING", fmt::format("the slot makes the source keep more WAL than "
                                        "slot.max_retained_wal ({} > {}): the target is behind, "
                                        "no pgmorph is streaming, or the slot is abandoned",
                                        bytes(*retained), bytes(maxRetainedWalBytes)));
    out +=
        row("safe_wal_size",
            slot->safeWalSize
                ? bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(0, *slot->safeWalSize)))
                : "unlimited (max_slot_wal_keep_size = -1)");
  }

  out += "\nsnapshot\n";
  if (!target.reachable) {
    out += row("state", "unknown (target unreachable)");
  } else if (!snapshot) {
    out += row("state", "none taken");
  } else {
    out +=
        row("state", fmt::format("{}, consistent point {}", snapshotStatus(snapshot->record.status),
                                 snapshot->record.consistentPoint.str()));
    for (const auto& t : snapshot->tasks) {
      std::string ranges =
          t.rangesTotal > 1 ? fmt::format(", {}/{} ranges", t.rangesDone, t.rangesTotal) : "";
      out += row(t.targetTable, fmt::format("{:<8} {} rows from {}{}", toString(t.state), t.rows,
                                            t.sourceTable, ranges));
    }
  }

  out += "\nparked rows\n";
  if (!target.reachable) {
    out += row("total", "unknown (target unreachable)");
  } else {
    out += row("total", std::to_string(parkedTotal()));
    for (const auto& c : parked)
      out += row(c.targetTable, fmt::format("{:<15} {}", toString(c.kind), c.rows));
  }

  out += "\nsuspended DDL\n";
  if (!target.reachable) {
    out += row("count", "unknown (target unreachable)");
  } else {
    out += row("count", suspended.empty() ? "0 (every index and constraint is in place)"
                                          : std::to_string(suspended.size()));
    for (const auto& d : suspended)
      out += row(d.qualifiedTable(), fmt::format("{} {}", toString(d.kind), d.name));
  }

  // Changes follow skipped because their table is neither mapped nor in ignore: — lost to the
  // target once the checkpoint passed them: a misspelled or forgotten mapping shows here.
  out += "\nunmapped changes (skipped: neither mapped nor in ignore:)\n";
  if (!target.reachable) {
    out += row("total", "unknown (target unreachable)");
  } else {
    std::uint64_t total = 0;
    for (const auto& u : unmapped) total += u.changes;
    out +=
        row("total",
            total == 0 ? "0" : fmt::format("{} (map these tables or list them in ignore:)", total));
    for (const auto& u : unmapped)
      out += row(u.table, fmt::format("{} changes, last {}", u.changes,
                                      formatMicros(u.lastSeenMicros, false)));
  }
  if (journal) out += journal->text();
  return out;
}

}  // namespace pgmorph
