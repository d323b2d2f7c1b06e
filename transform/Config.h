// The typed model of a pipeline file (format: deploy/examples/dispatch/mapping.yaml,
// the contract). ConfigLoader fills it; everything downstream reads it and never the YAML.
// Plain data, no I/O. Every element remembers the line it came from so that later
// checks (pgmorph check, transform errors) can point the operator at the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgmorph {

// What to do with a row whose problem is found before writing.
enum class RowPolicy { Park, Null, Fail };

// The word the mapping uses for it ("park", "null", "fail").
constexpr std::string_view toString(RowPolicy p) {
  switch (p) {
    case RowPolicy::Null:
      return "null";
    case RowPolicy::Fail:
      return "fail";
    case RowPolicy::Park:
      break;
  }
  return "park";
}

// `type:` conversions that transform understands. Anything else is passed through as
// text and cast by the target (TypeName keeps the name for messages and for the cast).
enum class Conversion { None, Timestamptz, Boolean, Jsonb, Other };

struct ColumnMapping {
  std::string source;  // source column
  std::string target;  // target column (`to`)
  Conversion conversion = Conversion::None;
  std::string typeName;  // as written in `type:` ("" when none)
  // Source table whose legacy key this value is: that table's idName (its name as written
  // where it is defined), so the UUID matches the one its own rows get.
  std::optional<std::string> ref;
  RowPolicy onMissing = RowPolicy::Park;
  std::vector<std::pair<std::string, std::string>> map;  // recode legacy -> new (text forms)
  std::optional<std::string> defaultValue;               // used when the source value is NULL
  RowPolicy onError = RowPolicy::Park;
  int line = 0;
};

// `set:` entries: target-only columns with a constant value.
struct ConstantColumn {
  std::string target;
  std::string value;
  int line = 0;
};

// `where:` entry: the row goes to this target only when `column`'s value is one of `values`.
struct WhereClause {
  std::string column;
  std::vector<std::string> values;
};

enum class TargetMode {
  Upsert,  // the target row is owned by the source row: insert/update/delete follow it
  Update,  // partial: only listed columns of an existing row named by `key` are written
};

struct TargetMapping {
  std::string targetSchema = "public";
  std::string target;  // target table
  TargetMode mode = TargetMode::Upsert;
  // Source columns forming the legacy key. For Upsert: the source table's key.
  // For Update: the column(s) naming the target row (`key: {column, table}`).
  std::vector<std::string> keyColumns;
  // Source table the key belongs to, as its idName (the UUID name). Upsert: the source
  // table itself; Update: `key.table`.
  std::string keyTable;
  std::string idColumn = "id";                // target column receiving the mapped UUID
  std::optional<std::string> legacyIdColumn;  // target column keeping the legacy key as is
  std::vector<ColumnMapping> columns;
  std::vector<ConstantColumn> set;
  std::vector<WhereClause> where;
  int line = 0;
};

struct TableMapping {
  std::string sourceSchema = "public";
  std::string sourceTable;  // table name without schema (what wal2json sends)
  // The name as written in the file ("dispatch_office" or "legacy.dispatch_office"): the
  // <source table> of its UUIDs, uuid_v5(ns, "<idName>:<key>") (see IdMapper.h).
  std::string idName;
  // The source table's own key: the key of its first upsert target, or {"id"} when it has
  // only mode: update targets. Names the legacy key in messages and the owner values of
  // its partial targets.
  std::vector<std::string> keyColumns;
  std::vector<TargetMapping> targets;
  int line = 0;
};

struct SourceConfig {
  std::string conninfo;  // may be empty when `journal` is set (then the commands that query the
                         // source say that they need it)
  std::string slot;
  std::string timezone = "UTC";  // zone of the legacy naive timestamps
  // `source.journal`: this pipeline reads the changes from a journal directory that another
  // process (`pgmorph journal`, or the follow of the pipeline that owns the slot) writes, not from
  // a slot of its own. Absolute (a relative path in the file is taken from the file's directory).
  std::string journal;
  bool readsJournal() const { return !journal.empty(); }
};

struct TargetConfig {
  std::string conninfo;
  std::string stateSchema = "pgmorph";
};

struct ApplyConfig {
  std::size_t batchChanges = 5000;  // max source changes per target transaction (chunk size)
  std::uint32_t batchMillis = 200;  // max time a batch stays open
  std::uint32_t statusIntervalMillis = 1000;  // standby status update period
  // Target sessions that apply batches side by side (ParallelLanes). 1: one session, the
  // sequential apply. Batches that touch the same rows never run side by side, and commits stay
  // in source order (see TransactionApplier).
  std::uint32_t sessions = 1;
  // With sessions > 1: how long a session waits for a row lock before the apply gives up on
  // running side by side (a wait pgmorph cannot see coming, e.g. a cascade), rolls back and
  // goes on one session at a time past that point.
  std::uint32_t lockTimeoutMillis = 2000;
};

struct SnapshotConfig {
  // Bulk-load like pg_restore: drop the loaded tables' indexes and foreign keys, copy, then
  // build each table's indexes once its copy is complete and re-add the foreign keys last.
  bool deferIndexes = true;
  // Build an index for each target foreign key onto a mapped table that no index leads with
  // (what `check` advises), after the copy like the suspended indexes: every delete of a
  // parent row scans the child table otherwise. Off by default: it changes the target's schema.
  bool indexForeignKeys = false;
};

// `metrics:` section: the HTTP endpoint of follow and run (/metrics, /healthz). Off unless
// `listen` is set here or --metrics-address is given.
struct MetricsConfig {
  std::string listen;  // "HOST:PORT" ("" = off)
  int line = 0;        // of `listen`, for the message when it cannot be bound
  // /healthz answers 503 once the source commit -> target commit delay exceeds this.
  double maxLagSeconds = 60;
};

// `on_schema_change:` what following does when a mapped source table's columns change (see
// transform/SchemaDrift.h): Stop on any change; IgnoreNewColumns lets an added column that the
// mapping does not name through (a mapped column that disappears, a retype or a rename still stop).
enum class SchemaChangePolicy { Stop, IgnoreNewColumns };

constexpr std::string_view toString(SchemaChangePolicy p) {
  return p == SchemaChangePolicy::Stop ? "stop" : "ignore_new_columns";
}

// `slot:` section: keeping the source's slot moving and watched.
struct SlotConfig {
  // Every this often follow writes a non-transactional logical message on the source
  // (pg_logical_emit_message) and waits for it on its own stream: it proves the walsender is
  // alive and lets the checkpoint move over WAL that carries nothing mapped. 0 = off.
  std::uint32_t heartbeatIntervalMillis = 10000;
  // Warn (status, check, follow's log, metrics) once the slot makes the source keep more WAL
  // than this many bytes. 0 = no limit.
  std::uint64_t maxRetainedWalBytes = 0;
};

// `journal:` section: the durable change journal (state/journal/Journal.h) that follow (or
// `pgmorph journal`) writes from the slot. Off unless `dir` is set.
struct JournalConfig {
  std::string dir;  // absolute (a relative path in the file is taken from the file's directory)
  std::uint64_t segmentBytes = 64ull << 20;
  std::uint64_t retainBytes = 0;       // 0 = no limit
  std::uint64_t retainAgeSeconds = 0;  // 0 = no limit
  // Who confirms the slot: Journal (a transaction is confirmed to the source once it is durable
  // in the journal: the source keeps little WAL while a target is down) or Target (only once the
  // target has committed it, as without a journal). Journal unless the file says otherwise.
  enum class Confirm { Journal, Target } confirm = Confirm::Journal;
  bool compress = false;
  bool enabled() const { return !dir.empty(); }
};

constexpr std::string_view toString(JournalConfig::Confirm c) {
  return c == JournalConfig::Confirm::Journal ? "journal" : "target";
}

// One entry of `ignore:`: a source table the user means to leave out. Its changes are skipped
// without the "neither mapped nor ignored" warning (they are still counted, apart).
struct IgnoredTable {
  std::string schema;  // "public" unless the entry says schema.table
  std::string table;
  int line = 0;
};

struct PipelineConfig {
  std::string file;  // where it was loaded from (for messages)
  std::string pipeline;
  SourceConfig source;
  TargetConfig target;
  std::string idNamespace;  // UUID text
  ApplyConfig apply;
  SnapshotConfig snapshot;
  MetricsConfig metrics;
  SchemaChangePolicy onSchemaChange = SchemaChangePolicy::Stop;
  int onSchemaChangeLine = 0;  // of `on_schema_change` (0: not in the file)
  SlotConfig slot;
  JournalConfig journal;
  std::vector<TableMapping> tables;
  std::vector<IgnoredTable> ignore;  // `ignore:`; never a mapped table (the loader refuses it)

  const TableMapping* findTable(std::string_view schema, std::string_view table) const;
  // By a name as a user writes it: "table" (schema public) or "schema.table".
  const TableMapping* findTableByName(std::string_view name) const;
  // Listed in `ignore:`.
  bool ignores(std::string_view schema, std::string_view table) const;
};

}  // namespace pgmorph
