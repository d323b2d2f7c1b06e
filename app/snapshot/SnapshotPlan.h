// SnapshotPlan: what the snapshot copies and in which order, decided once from the mapping
// and the target's catalog (its foreign keys), before anything is read.
//
// - One task per TargetMapping: an upsert target is loaded with COPY from a read of its
//   source table; a partial (mode: update) target gets its columns from a read of its
//   source table too. A source table that feeds several targets (fan-out) is read once
//   PER TASK rather than once for all of them: each task then maps to exactly one target
//   table, so ordering, per-table progress, "copy + mark done in one target transaction"
//   and parallelism all apply per task without coordinating writers across tables; the
//   price is re-reading the source table, the cheapest stage of the pipeline.
// - Groups: the unit of ordering. A group starts once every group it comes after is done:
//   * an upsert task comes after the upsert tasks of every parent table that one of the
//     foreign keys it WRITES references (jaws are loaded before orders exist, since the
//     jaws' own mapping does not write jaws.order_id; system_messages waits for profiles
//     only) — the FK graph's levels, refined by the columns each task writes;
//   * a partial task comes after every upsert task of its own target table (the rows it
//     completes) and of the parents its written FKs reference; the partial tasks of one
//     target table form one group, run one after the other, so two of them never update
//     the same rows at once (an order's upper and lower jaw);
//   * a cycle in the FK graph is one group copied in ONE target transaction with
//     SET CONSTRAINTS ALL DEFERRED, which needs every constraint of the cycle DEFERRABLE;
//     otherwise build() refuses with the constraint names and what to change.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sink/TargetCatalog.h"
#include "transform/Config.h"

namespace pgmorph {

// ("schema", "table") of a task's "schema.table" (names as the mapping gives them: the schema
// holds no dot).
std::pair<std::string, std::string> splitQualifiedName(const std::string& qualified);

struct SnapshotTask {
  std::string id;               // "public.orders <- public.dispatch_instruction #0"
  std::size_t tableIndex = 0;   // config.tables[tableIndex]
  std::size_t targetIndex = 0;  // .targets[targetIndex]
  std::string sourceTable;      // "schema.table"
  std::string targetTable;      // "schema.table"
  bool partial = false;         // mode: update
  // The source columns the Transformer reads for this source table (every target of it:
  // it transforms a row for all of them at once), sorted.
  std::vector<std::string> sourceColumns;
  bool selfReferencing = false;  // the target table has an FK onto itself
  bool inCycle = false;
  std::size_t group = 0;  // index into SnapshotPlan::groups()
};

// Tasks that go together: one worker copies them in order. `oneTransaction`: all of them
// in one target transaction with constraints deferred (a cycle).
struct SnapshotGroup {
  std::vector<std::size_t> tasks;  // indexes into SnapshotPlan::tasks()
  bool oneTransaction = false;
  std::vector<std::size_t> after;  // groups that must be done before this one starts
};

class SnapshotPlan {
 public:
  // Every target table the mapping writes ("schema.table"), for TargetCatalog::read.
  static std::vector<std::string> targetTables(const PipelineConfig& config);

  // Throws PgmorphError (Operator) when a mapped target table does not exist on the target,
  // or when a cycle of the target's FKs has a constraint that is not DEFERRABLE.
  static SnapshotPlan build(const PipelineConfig& config, const TargetCatalog& catalog);

  const std::vector<SnapshotTask>& tasks() const { return tasks_; }
  // In an order where every group comes after the groups it waits for.
  const std::vector<SnapshotGroup>& groups() const { return groups_; }
  // Target tables owned by upsert tasks, children before parents (the order to DELETE in).
  const std::vector<std::string>& ownedTablesChildFirst() const { return owned_; }
  // Partial tasks whose target table no upsert task owns: a restart must release the
  // columns they filled instead of emptying the table.
  std::vector<std::size_t> partialsOnForeignTables() const;
  // One line per cycle handled with deferred constraints, for the log.
  const std::vector<std::string>& cycleNotes() const { return cycleNotes_; }
  // References without a target key whose parent table cannot be loaded first (such
  // references point at each other): ("schema.table", column). Their copies leave them
  // unchecked, and they are swept once every table is copied (SnapshotRunner).
  const std::vector<std::pair<std::string, std::string>>& lateChecks() const { return lateChecks_; }

 private:
  std::vector<SnapshotTask> tasks_;
  std::vector<SnapshotGroup> groups_;
  std::vector<std::string> owned_;
  std::vector<std::string> cycleNotes_;
  std::vector<std::pair<std::string, std::string>> lateChecks_;
};

}  // namespace pgmorph
