// ConfigLoader: pipeline file text -> PipelineConfig. The format is the one of
// deploy/examples/dispatch/mapping.yaml (the contract; its comments document every key),
// plus an optional `apply:` section {batch_changes, batch_ms, status_interval_ms}.
//
// Contract:
// - No I/O: the caller reads the file and passes its text; `file` only names it in
//   messages; environment variables come from `env` (${VAR} in any scalar value).
// - Everything that can be checked without a database is checked here, and every problem
//   is a ConfigError "<file>:<line>: <path>: <what to fix>", e.g.
//   "mapping.yaml:57: tables.dispatch_doctor[0].columns.user_id: ref names 'dispatch_usr',
//    which is not a mapped source table (mapped: dispatch_office, dispatch_user, ...)".
//   Checked: unknown and duplicate keys, missing required keys, wrong shapes, enum values
//   (mode, on_missing, on_error, type names), refs and key.table naming unmapped tables,
//   key and where columns, target columns written twice, undefined ${VAR}, the UUID
//   namespace, slot names, and that every mode: update target has its owner columns
//   (the source key mapped to target columns, see WritePlan.h) so it can be released.
// - Defaults: source.slot "pgmorph_<pipeline>", source.timezone UTC, target.state_schema
//   pgmorph, mode upsert, on_missing/on_error park, table schema public.
// - Table names may be "schema.table"; the UUID name of a source table is its name as
//   written (TableMapping::idName), and refs are stored as the idName of the table they
//   name, so a ref and the referenced row agree on the UUID however the ref is spelled.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "transform/Config.h"

namespace pgmorph {

// Looks up an environment variable; std::nullopt when unset. Injected so that transform/
// does no I/O and tests can supply their own environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

class ConfigLoader {
 public:
  // Parses YAML text (yaml-cpp) into the typed model; `file` is only used in messages.
  // Throws ConfigError (cdc/pg/PgError.h) naming file, line and key.
  static PipelineConfig fromString(const std::string& yaml, const std::string& file,
                                   const EnvLookup& env);
};

}  // namespace pgmorph
