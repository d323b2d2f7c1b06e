// ParkedStore owns the parked rows of one pipeline in the target's state schema (table
// `<state_schema>.parked`, shared by pipelines and told apart by its `pipeline` column).
//
// Every write method runs inside the caller's open target transaction, the one that carries
// the writes they describe: a row is parked, retried or removed together with the writes
// around it, or not at all (the checkpoint commits in that same transaction). Reads see that
// transaction's own changes.
//
// Lookups are by the three things the apply path asks: the target rows a batch writes
// (onRows), the parent rows a batch upserted (waitingFor), and the source rows whose change
// could not be transformed (unconvertible). Each has an index.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "state/ParkedRow.h"

namespace pgmorph {

class ParkedStore {
 public:
  ParkedStore(std::string stateSchema, std::string pipeline);

  // Creates the state schema, the table and its indexes if missing (idempotent).
  void ensureSchema(PgConnection& target) const;

  // Serializes the sessions that work on this pipeline's parked rows (follow, `pgmorph parked
  // retry`): a transaction-level advisory lock, held until the caller's transaction ends, so
  // a retry by hand and the stream never apply two versions of one parked row in an order the
  // source did not have. Re-entrant within a transaction.
  void lock(PgConnection& target) const;
  // Inserts a new entry (attempts 1, first seen and last tried now); returns its id. The first
  // entry of each target table in this process is also logged as a warning (once per table,
  // snapshot and stream alike), with how to list them.
  std::int64_t park(PgConnection& target, const ParkedRow& row) const;
  // An entry that was tried again and failed again: takes `row`'s write, change, reason and
  // what it waits for, adds one to attempts, sets last tried to now. Keeps id and first seen.
  // When the entry is gone meanwhile (another session retried or discarded it), `row` is
  // parked as a new entry: a later failure is never lost. Returns the entry's id.
  std::int64_t repark(PgConnection& target, std::int64_t id, const ParkedRow& row) const;
  // Removes entries by id; returns how many there were.
  std::size_t remove(PgConnection& target, std::span<const std::int64_t> ids) const;

  std::vector<ParkedRow> byIds(PgConnection& target, std::span<const std::int64_t> ids) const;
  // Entries whose target row is one of `rowIds`, whatever their table: callers compare
  // targetTable themselves (one index probe per id, one statement).
  std::vector<ParkedRow> onRows(PgConnection& target, std::span<const Uuid> rowIds) const;
  // MissingParent and NullReference entries waiting for one of `ids` of `table`.
  std::vector<ParkedRow> waitingFor(PgConnection& target, const std::string& table,
                                    std::span<const Uuid> ids) const;
  // Entries of one mapping target (ParkedRow::plan) and op ("" = any op).
  std::vector<ParkedRow> ofPlan(PgConnection& target, const std::string& plan,
                                const std::string& op = "") const;
  // The Unconvertible entry of one source row, if any.
  std::optional<ParkedRow> unconvertible(PgConnection& target, const std::string& sourceTable,
                                         const std::string& legacyKey) const;
  // (source table, legacy key) of every Unconvertible entry.
  std::vector<std::pair<std::string, std::string>> unconvertibleKeys(PgConnection& target) const;
  // Entries of a source table's Unconvertible changes (a TRUNCATE makes them moot).
  std::vector<ParkedRow> unconvertibleOf(PgConnection& target,
                                         const std::string& sourceTable) const;

  // What `pgmorph parked list|discard` select: `table` matches the target table (with or
  // without its schema) or the source table; `reason` is a case-insensitive substring.
  struct Filter {
    std::string table;
    std::string reason;
    std::optional<ParkKind> kind;
  };
  // Oldest first; at most `limit` rows (0 = all).
  std::vector<ParkedRow> list(PgConnection& target, const Filter& filter,
                              std::size_t limit = 0) const;
  std::int64_t count(PgConnection& target) const;
  // Every entry's id and target table, oldest first: what `pgmorph parked retry --all`
  // splits into batches (the entries themselves are read per batch).
  struct EntryRef {
    std::int64_t id = 0;
    std::string targetTable;
  };
  std::vector<EntryRef> entries(PgConnection& target) const;
  // How many entries each (target table, kind) has, ordered by target table then kind.
  struct TableCount {
    std::string targetTable;
    ParkKind kind = ParkKind::Refused;
    std::int64_t rows = 0;
  };
  std::vector<TableCount> countByTable(PgConnection& target) const;
  // Whether anything is parked for the pipeline (one index probe).
  bool any(PgConnection& target) const;
  // Target tables that parked rows wait for (missing_table of MissingParent/NullReference).
  std::vector<std::string> waitedTables(PgConnection& target) const;
  // Whether the parked table exists yet (a read-only command must not create it).
  bool exists(PgConnection& target) const;

  const std::string& stateSchema() const { return schema_; }
  // The parked table, quoted and qualified, for queries of other readers (pgmorph verify).
  std::string qualifiedName(PgConnection& target) const { return table(target); }
  const std::string& pipeline() const { return pipeline_; }

 private:
  std::string table(PgConnection& target) const;
  void warnFirst(const ParkedRow& row) const;
  std::vector<ParkedRow> select(PgConnection& target, const std::string& where,
                                std::span<const std::optional<std::string_view>> params,
                                std::size_t limit = 0) const;
  std::string schema_;
  std::string pipeline_;
};

}  // namespace pgmorph
