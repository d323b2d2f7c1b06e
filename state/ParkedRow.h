// ParkedRow: one parked entry as the state schema keeps it — a change that could not be
// applied (yet), with enough to apply it later, the reason, and what it waits for.
//
// Plain data, no I/O and no knowledge of the mapping: the sink turns a TargetWrite into the
// `plan`/`op`/`rowId`/`values` fields and back (ParkedWriteCodec), and keeps a source Change
// as JSON in `change` for rows that could not even be transformed. ParkedStore reads and
// writes these rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/model/Uuid.h"

namespace pgmorph {

enum class ParkKind : std::uint8_t {
  // A reference names a parent row that is not on the target (on_missing: park). Retried
  // when that parent row is upserted.
  MissingParent,
  // on_missing: null — the row was written with NULL in that reference; this entry is the
  // reference to fill in (a one-column write) when the parent row arrives.
  NullReference,
  // The target refused the write (CHECK, NOT NULL, unique, ...): `reason` is the database's
  // message. Retried when a later change of the same row arrives, or by `pgmorph parked retry`.
  Refused,
  // The source change could not be transformed (on_error: park): `change` holds the source
  // change; a later change of the same source row is merged into it and transformed again.
  Unconvertible,
};

std::string_view toString(ParkKind kind);
// Throws std::invalid_argument for a name toString() does not give.
ParkKind parseParkKind(std::string_view name);

// One value of a parked write, by target column name (so a reordered mapping still decodes).
struct ParkedValue {
  enum class State : char { Present = 'P', Null = 'N', Absent = 'A' };
  std::string column;
  State state = State::Present;
  std::string text;  // Present only
  bool operator==(const ParkedValue&) const = default;
};

struct ParkedRow {
  std::int64_t id = 0;  // assigned by ParkedStore::park()
  ParkKind kind = ParkKind::Refused;
  std::string sourceTable;  // as the mapping writes it ("dispatch_notification")
  std::string legacyKey;    // "" when unknown (a change whose key is NULL)
  std::string targetTable;  // "public.system_messages"
  // Identity of the mapping target that made the write (ParkedWriteCodec::planKey), "" for
  // Unconvertible rows.
  std::string plan;
  std::string op;             // "upsert", "delete", "set_columns", "release", "truncate"; "change"
  std::optional<Uuid> rowId;  // target row, when the write names one
  bool hasRow = true;         // release: whether rowId is a row to keep
  std::vector<ParkedValue> values;  // write values (upsert, set_columns: plan columns;
                                    // release: owner columns)
  std::string change;               // Unconvertible: the source change as JSON
  std::string reason;               // the database's message, or the transform's problem
  std::string sqlstate;             // the database's code ("" when not from the database)
  std::string missingTable;         // MissingParent/NullReference: "public.profiles"
  std::optional<Uuid> missingId;    // ... and the parent row's id
  std::string missingColumn;        // the target column that references it
  Lsn lsn;                          // source position of the (latest) change
  int attempts = 1;
  std::string firstSeen, lastTried;  // timestamptz text (read only)
};

}  // namespace pgmorph
