// StatusReport::json(): the stable JSON form documented in StatusReport.h, with RapidJSON's
// Writer (keys in a fixed order; null for what is unknown).
#include "cdc/json/JsonWriter.h"

#include "app/status/StatusReport.h"

namespace pgmorph {

namespace {

void lsnOrNull(JsonWriter& w, const std::optional<Lsn>& lsn) {
  w.stringOrNull(lsn ? std::optional<std::string>(lsn->str()) : std::nullopt);
}

void timeOrNull(JsonWriter& w, std::int64_t micros) {
  if (micros)
    w.string(formatMicros(micros, true));
  else
    w.null();
}

void errorOrNull(JsonWriter& w, const StatusSide& side) {
  if (side.reachable)
    w.null();
  else
    w.string(side.error);
}

template <class T>
void uintOrNull(JsonWriter& w, const std::optional<T>& n) {
  if (n)
    w.unsignedInteger(static_cast<std::uint64_t>(*n));
  else
    w.null();
}

}  // namespace

std::string StatusReport::json() const {
  JsonWriter w;
  w.startObject();
  w.key("version");
  w.integer(1);
  w.key("file");
  w.string(file);
  w.key("pipeline");
  w.string(pipeline);
  w.key("status");
  w.string(exitCode() == 0 ? "ok" : "unreachable");

  w.key("source");
  w.startObject();
  w.key("reachable");
  w.boolean(source.reachable);
  w.key("error");
  errorOrNull(w, source);
  w.key("current_lsn");
  lsnOrNull(w, currentLsn);
  w.endObject();

  w.key("target");
  w.startObject();
  w.key("reachable");
  w.boolean(target.reachable);
  w.key("error");
  errorOrNull(w, target);
  w.key("state_schema");
  w.string(stateSchema);
  w.key("state_schema_exists");
  if (target.reachable)
    w.boolean(stateSchemaExists);
  else
    w.null();
  w.endObject();

  w.key("checkpoint");
  if (!checkpoint) {
    w.null();
  } else {
    w.startObject();
    w.key("lsn");
    w.string(checkpoint->lsn.str());
    w.key("slot");
    w.string(checkpoint->slot);
    w.key("applied_transactions");
    w.integer(checkpoint->appliedTransactions);
    w.key("updated_at");
    timeOrNull(w, checkpoint->updatedAtMicros);
    w.key("last_applied_at");
    timeOrNull(w, checkpoint->lastAppliedMicros);
    w.key("last_commit_time");
    timeOrNull(w, checkpoint->sourceCommitMicros);
    w.endObject();
  }

  LagSeconds secs = lagSeconds();
  w.key("lag");
  w.startObject();
  w.key("bytes");
  uintOrNull(w, lagBytes());
  w.key("seconds");
  if (secs.seconds)
    w.real(*secs.seconds);
  else
    w.null();
  w.key("seconds_basis");
  w.string(secs.basis);
  w.key("seconds_note");
  w.string(secs.note);
  w.endObject();

  w.key("slot");
  w.startObject();
  w.key("name");
  w.string(slotName);
  w.key("exists");
  if (source.reachable)
    w.boolean(slot.has_value());
  else
    w.null();
  w.key("plugin");
  w.string(slot ? slot->plugin : "");
  w.key("active");
  w.boolean(slot && slot->active);
  w.key("active_pid");
  if (slot && slot->active)
    w.integer(slot->activePid);
  else
    w.null();
  w.key("wal_status");
  w.string(slot ? slot->walStatus : "");
  w.key("restart_lsn");
  lsnOrNull(
      w, slot && !slot->restartLsn.isZero() ? std::optional<Lsn>(slot->restartLsn) : std::nullopt);
  w.key("confirmed_flush_lsn");
  lsnOrNull(w, slot && !slot->confirmedFlush.isZero() ? std::optional<Lsn>(slot->confirmedFlush)
                                                      : std::nullopt);
  w.key("retained_wal_bytes");
  uintOrNull(w, retainedWalBytes());
  w.key("safe_wal_size");
  if (slot && slot->safeWalSize)
    w.integer(*slot->safeWalSize);
  else
    w.null();
  w.key("max_retained_wal_bytes");
  uintOrNull(
      w, maxRetainedWalBytes ? std::optional<std::uint64_t>(maxRetainedWalBytes) : std::nullopt);
  w.key("retained_wal_warning");
  if (auto over = retainedWalOverLimit())
    w.boolean(*over);
  else
    w.null();
  w.endObject();

  w.key("snapshot");
  if (!snapshot) {
    w.null();
  } else {
    w.startObject();
    w.key("status");
    w.string(snapshot->record.status == SnapshotStatus::Done ? "done" : "in_progress");
    w.key("consistent_point");
    w.string(snapshot->record.consistentPoint.str());
    w.key("tables");
    w.startArray();
    for (const auto& t : snapshot->tasks) {
      w.startObject();
      w.key("task");
      w.string(t.task);
      w.key("source_table");
      w.string(t.sourceTable);
      w.key("target_table");
      w.string(t.targetTable);
      w.key("state");
      w.string(toString(t.state));
      w.key("rows");
      w.integer(t.rows);
      w.key("ranges_total");
      w.integer(t.rangesTotal);
      w.key("ranges_done");
      w.integer(t.rangesDone);
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }

  w.key("parked");
  w.startObject();
  w.key("total");
  if (target.reachable)
    w.integer(parkedTotal());
  else
    w.null();
  w.key("by_table");
  w.startArray();
  for (const auto& c : parked) {
    w.startObject();
    w.key("table");
    w.string(c.targetTable);
    w.key("reason");
    w.string(toString(c.kind));
    w.key("rows");
    w.integer(c.rows);
    w.endObject();
  }
  w.endArray();
  w.endObject();

  w.key("suspended_ddl");
  w.startObject();
  w.key("count");
  if (target.reachable)
    w.unsignedInteger(suspended.size());
  else
    w.null();
  w.key("items");
  w.startArray();
  for (const auto& d : suspended) {
    w.startObject();
    w.key("table");
    w.string(d.qualifiedTable());
    w.key("name");
    w.string(d.name);
    w.key("kind");
    w.string(toString(d.kind));
    w.endObject();
  }
  w.endArray();
  w.endObject();

  w.key("unmapped_changes");
  w.startObject();
  w.key("total");
  if (target.reachable) {
    std::uint64_t total = 0;
    for (const auto& u : unmapped) total += u.changes;
    w.unsignedInteger(total);
  } else {
    w.null();
  }
  w.key("by_table");
  w.startArray();
  for (const auto& u : unmapped) {
    w.startObject();
    w.key("table");
    w.string(u.table);
    w.key("changes");
    w.unsignedInteger(u.changes);
    w.key("last_seen_at");
    w.string(formatMicros(u.lastSeenMicros, true));
    w.endObject();
  }
  w.endArray();
  w.endObject();

  w.key("journal");
  if (journal)
    journal->json(w);
  else
    w.null();

  w.endObject();
  return w.text() + "\n";
}

}  // namespace pgmorph
