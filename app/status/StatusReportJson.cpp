// StatusReport::json(): the stable JSON form documented in StatusReport.h, with RapidJSON's
// Writer (keys in a fixed order; null for what is unknown).
#include "cdc/json/RapidJsonSetup.h"  // RapidJSON with pgmorph's settings, before its headers

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "app/status/StatusReport.h"

namespace pgmorph {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void key(JsonWriter& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void lsnOrNull(JsonWriter& w, const std::optional<Lsn>& lsn) {
  if (lsn)
    str(w, lsn->str());
  else
    w.Null();
}

void timeOrNull(JsonWriter& w, std::int64_t micros) {
  if (micros)
    str(w, formatMicros(micros, true));
  else
    w.Null();
}

void errorOrNull(JsonWriter& w, const StatusSide& side) {
  if (side.reachable)
    w.Null();
  else
    str(w, side.error);
}

template <class T>
void uintOrNull(JsonWriter& w, const std::optional<T>& n) {
  if (n)
    w.Uint64(static_cast<std::uint64_t>(*n));
  else
    w.Null();
}

}  // namespace

std::string StatusReport::json() const {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  key(w, "version");
  w.Int(1);
  key(w, "file");
  str(w, file);
  key(w, "pipeline");
  str(w, pipeline);
  key(w, "status");
  str(w, exitCode() == 0 ? "ok" : "unreachable");

  key(w, "source");
  w.StartObject();
  key(w, "reachable");
  w.Bool(source.reachable);
  key(w, "error");
  errorOrNull(w, source);
  key(w, "current_lsn");
  lsnOrNull(w, currentLsn);
  w.EndObject();

  key(w, "target");
  w.StartObject();
  key(w, "reachable");
  w.Bool(target.reachable);
  key(w, "error");
  errorOrNull(w, target);
  key(w, "state_schema");
  str(w, stateSchema);
  key(w, "state_schema_exists");
  if (target.reachable)
    w.Bool(stateSchemaExists);
  else
    w.Null();
  w.EndObject();

  key(w, "checkpoint");
  if (!checkpoint) {
    w.Null();
  } else {
    w.StartObject();
    key(w, "lsn");
    str(w, checkpoint->lsn.str());
    key(w, "slot");
    str(w, checkpoint->slot);
    key(w, "applied_transactions");
    w.Int64(checkpoint->appliedTransactions);
    key(w, "updated_at");
    timeOrNull(w, checkpoint->updatedAtMicros);
    key(w, "last_applied_at");
    timeOrNull(w, checkpoint->lastAppliedMicros);
    key(w, "last_commit_time");
    timeOrNull(w, checkpoint->sourceCommitMicros);
    w.EndObject();
  }

  LagSeconds secs = lagSeconds();
  key(w, "lag");
  w.StartObject();
  key(w, "bytes");
  uintOrNull(w, lagBytes());
  key(w, "seconds");
  if (secs.seconds)
    w.Double(*secs.seconds);
  else
    w.Null();
  key(w, "seconds_basis");
  str(w, secs.basis);
  key(w, "seconds_note");
  str(w, secs.note);
  w.EndObject();

  key(w, "slot");
  w.StartObject();
  key(w, "name");
  str(w, slotName);
  key(w, "exists");
  if (source.reachable)
    w.Bool(slot.has_value());
  else
    w.Null();
  key(w, "plugin");
  str(w, slot ? slot->plugin : "");
  key(w, "active");
  w.Bool(slot && slot->active);
  key(w, "active_pid");
  if (slot && slot->active)
    w.Int(slot->activePid);
  else
    w.Null();
  key(w, "wal_status");
  str(w, slot ? slot->walStatus : "");
  key(w, "restart_lsn");
  lsnOrNull(
      w, slot && !slot->restartLsn.isZero() ? std::optional<Lsn>(slot->restartLsn) : std::nullopt);
  key(w, "confirmed_flush_lsn");
  lsnOrNull(w, slot && !slot->confirmedFlush.isZero() ? std::optional<Lsn>(slot->confirmedFlush)
                                                      : std::nullopt);
  key(w, "retained_wal_bytes");
  uintOrNull(w, retainedWalBytes());
  key(w, "safe_wal_size");
  if (slot && slot->safeWalSize)
    w.Int64(*slot->safeWalSize);
  else
    w.Null();
  w.EndObject();

  key(w, "snapshot");
  if (!snapshot) {
    w.Null();
  } else {
    w.StartObject();
    key(w, "status");
    str(w, snapshot->record.status == SnapshotStatus::Done ? "done" : "in_progress");
    key(w, "consistent_point");
    str(w, snapshot->record.consistentPoint.str());
    key(w, "tables");
    w.StartArray();
    for (const auto& t : snapshot->tasks) {
      w.StartObject();
      key(w, "task");
      str(w, t.task);
      key(w, "source_table");
      str(w, t.sourceTable);
      key(w, "target_table");
      str(w, t.targetTable);
      key(w, "state");
      str(w, toString(t.state));
      key(w, "rows");
      w.Int64(t.rows);
      key(w, "ranges_total");
      w.Int(t.rangesTotal);
      key(w, "ranges_done");
      w.Int(t.rangesDone);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }

  key(w, "parked");
  w.StartObject();
  key(w, "total");
  if (target.reachable)
    w.Int64(parkedTotal());
  else
    w.Null();
  key(w, "by_table");
  w.StartArray();
  for (const auto& c : parked) {
    w.StartObject();
    key(w, "table");
    str(w, c.targetTable);
    key(w, "reason");
    str(w, toString(c.kind));
    key(w, "rows");
    w.Int64(c.rows);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  key(w, "suspended_ddl");
  w.StartObject();
  key(w, "count");
  if (target.reachable)
    w.Uint64(suspended.size());
  else
    w.Null();
  key(w, "items");
  w.StartArray();
  for (const auto& d : suspended) {
    w.StartObject();
    key(w, "table");
    str(w, d.qualifiedTable());
    key(w, "name");
    str(w, d.name);
    key(w, "kind");
    str(w, toString(d.kind));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace pgmorph
