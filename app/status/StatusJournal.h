// StatusJournal: the journal part of `pgmorph status` (and its JSON), for a pipeline that writes
// a journal (`journal:`) or reads one (`source.journal`). Read from the directory only (files;
// no process needs to run): the range of positions it keeps, its size, and every consumer with
// its applied position, how far behind the journal's end it is, and whether retention deleted
// changes it had not applied (its position is before the journal's start: it needs a new
// snapshot — the forced-retention warning).
//
// JSON (key "journal" of status; null when the pipeline has no journal):
//   { "dir": "...", "role": "writes" | "reads", "readable": bool, "error": "..." | null,
//     "start_lsn": "X/X" | null, "end_lsn": "X/X" | null, "bytes": n | null,
//     "segments": n | null,
//     "consumers": [ { "name": "...", "applied_lsn": "X/X", "behind_bytes": n,
//                      "updated_at": "<UTC ISO 8601>", "behind_retention": bool } ],
//     "forced_retention": [ "<consumer>", ... ] }  (consumers behind retention)
#pragma once

#include <optional>
#include <string>

#include "cdc/json/JsonWriter.h"
#include "state/journal/Journal.h"
#include "transform/Config.h"

namespace pgmorph {

struct StatusJournal {
  std::string dir;
  std::string role;  // "writes" (journal:) or "reads" (source.journal)
  bool readable = false;
  std::string error;  // why not; "" when readable
  JournalInfo info;

  // nullopt when the pipeline has no journal; never throws (an unreadable one says why).
  static std::optional<StatusJournal> read(const PipelineConfig& config);
  // The consumers retention left behind (applied before the journal's start).
  std::vector<std::string> forcedPast() const;
  std::string text() const;
  void json(JsonWriter& w) const;
};

}  // namespace pgmorph
