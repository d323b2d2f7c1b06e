// StatusReport: what `pgmorph status` found — the durable state on the target (checkpoint,
// parked rows, snapshot progress, suspended DDL), the source's side (current WAL position,
// the slot) — and its two renderings: a human report in a few aligned sections and a stable
// JSON form. StatusCommand fills it; it owns the derived figures (lag in bytes and seconds)
// so that both renderings say the same.
//
// Lag:
//  - bytes: the source's current WAL insert position (pg_current_wal_insert_lsn(), which
//    counts commits still in the WAL buffers) minus the checkpoint LSN (pg_wal_lsn_diff), 0
//    when the checkpoint is at or past it; unknown without either.
//  - seconds: 0 when the lag in bytes is 0 (nothing unapplied); otherwise the source's clock
//    now minus the source time of the checkpoint (the row's source_commit_time: the commit
//    time of the last applied transaction, or the time a heartbeat that follow confirmed was
//    written): an upper bound, since whatever is unapplied was written after that. On an idle
//    source, or one writing only unmapped tables, a running follow with heartbeats keeps it
//    under about one heartbeat interval. Unknown (null, with the reason) when the checkpoint
//    carries no source time (only a snapshot's consistent point or keepalive advances so far,
//    or a row of an older pgmorph).
//    WAL that carries no change of the pipeline (another database's, the server's own
//    records) counts in the bytes too; a running pgmorph moves the checkpoint over it.
//
// JSON (stable; keys only ever added, never renamed or removed; null = unknown):
//   { "version": 1, "file": "...", "pipeline": "...",
//     "status": "ok" | "unreachable",  (unreachable: exit code 2; also when the pipeline file
//                                        cannot be read: each side's error is "not tried: <why>")
//     "source": { "reachable": bool, "error": "..." | null, "current_lsn": "X/X" | null },
//     "target": { "reachable": bool, "error": "..." | null, "state_schema": "...",
//                 "state_schema_exists": bool | null },
//     "checkpoint": null | { "lsn": "X/X", "slot": "...", "applied_transactions": n,
//                            "updated_at": "<UTC ISO 8601>",
//                            "last_applied_at": "<UTC ISO 8601>" | null,
//                            "last_commit_time": "<UTC ISO 8601>" | null },
//     "lag": { "bytes": n | null, "seconds": x | null,
//              "seconds_basis": "caught_up" | "since_last_applied_commit" | "unknown",
//              "seconds_note": "..." },
//     "slot": { "name": "...", "exists": bool | null, "plugin": "...", "active": bool,
//               "active_pid": n | null, "wal_status": "...", "restart_lsn": "X/X" | null,
//               "confirmed_flush_lsn": "X/X" | null, "retained_wal_bytes": n | null,
//               "safe_wal_size": n | null,
//               "max_retained_wal_bytes": n | null,  (slot.max_retained_wal; null: no limit)
//               "retained_wal_warning": bool | null },  (retained above it; null: unknown)
//     "snapshot": null | { "status": "in_progress" | "done", "consistent_point": "X/X",
//                          "tables": [ { "task": "...", "source_table": "schema.table",
//                                        "target_table": "schema.table",
//                                        "state": "pending" | "copying" | "done", "rows": n,
//                                        "ranges_total": n, "ranges_done": n } ] },
//     "parked": { "total": n | null, "by_table": [ { "table": "schema.table",
//                  "reason": "missing_parent" | "null_reference" | "refused" | "unconvertible",
//                  "rows": n } ] },
//     "suspended_ddl": { "count": n | null, "items": [ { "table": "schema.table",
//                        "name": "...", "kind": "index" | "constraint" | "foreign_key" } ] },
//     "unmapped_changes": { "total": n | null,  (row changes follow skipped: their source table
//                           "by_table": [ {        is neither mapped nor in ignore:, all runs)
//                             "table": "schema.table", "changes": n,
//                             "last_seen_at": "<UTC ISO 8601>" } ] },
//     "journal": null | { ... } }  (StatusJournal.h)
//   null for what a side that could not be reached would have told.
// A pipeline that reads a journal without source.conninfo has no source to ask: "source" says
// so in its error ("not asked: ..."), and it does not make the exit code 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/status/StatusJournal.h"
#include "cdc/SlotManager.h"
#include "cdc/model/Lsn.h"
#include "state/CheckpointStore.h"
#include "state/ParkedStore.h"
#include "state/SnapshotStore.h"
#include "state/SuspendedDdlStore.h"
#include "state/UnmappedStore.h"

namespace pgmorph {

// One database as status reached it.
struct StatusSide {
  bool reachable = false;
  std::string error;  // why not (never a password); "" when reachable
};

struct StatusSnapshot {
  SnapshotRecord record;
  std::vector<SnapshotTaskRow> tasks;
};

struct LagSeconds {
  std::optional<double> seconds;
  std::string basis;  // "caught_up", "since_last_applied_commit", "unknown"
  std::string note;   // what the figure means, or why it is unknown
};

struct StatusReport {
  std::string file, pipeline, stateSchema, slotName;

  StatusSide source;
  std::optional<Lsn> currentLsn;          // source: pg_current_wal_insert_lsn()
  std::int64_t sourceNowMicros = 0;       // source clock when read (Unix µs)
  std::optional<SlotInfo> slot;           // source: nullopt when the slot does not exist
  std::uint64_t maxRetainedWalBytes = 0;  // slot.max_retained_wal (0 = no limit)

  StatusSide target;
  bool stateSchemaExists = false;
  std::optional<Checkpoint> checkpoint;
  std::optional<StatusSnapshot> snapshot;
  std::vector<ParkedStore::TableCount> parked;
  std::vector<SuspendedDdl> suspended;  // still suspended (not restored)
  std::vector<UnmappedCount> unmapped;  // tables neither mapped nor ignored, with changes

  std::optional<StatusJournal> journal;  // `journal:` or source.journal
  bool sourceConfigured = true;          // false: reads a journal, no source.conninfo

  // 0 when every side asked could be reached, 2 otherwise.
  int exitCode() const {
    return (source.reachable || !sourceConfigured) && target.reachable ? 0 : 2;
  }
  std::optional<std::uint64_t> lagBytes() const;
  LagSeconds lagSeconds() const;
  // WAL the slot makes the source keep: current LSN minus its restart_lsn.
  std::optional<std::uint64_t> retainedWalBytes() const;
  // Retained WAL above slot.max_retained_wal; nullopt without a limit or a reading.
  std::optional<bool> retainedWalOverLimit() const;
  std::int64_t parkedTotal() const;

  std::string text() const;
  std::string json() const;  // StatusReportJson.cpp
};

// "2026-12-02 02:55:01.123456 UTC" (text) and "2026-12-02T02:55:01.123456Z" (JSON).
std::string formatMicros(std::int64_t unixMicros, bool iso);

}  // namespace pgmorph
