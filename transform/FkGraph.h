// FkGraph: the target's foreign keys as a graph over the tables pgmorph writes, and the
// orders that graph implies. Pure: the sink reads the catalog and builds it; the snapshot
// copies by levels, and batch apply orders upserts parent-first and deletes child-first.
//
// Cycles (two or more tables referencing each other) are collapsed into one group; each
// cycle is reported with the constraint names that form it, so `pgmorph check` and the
// snapshot can say exactly what to change. A self-reference is not a cycle between tables
// (it does not constrain the order of tables) and is reported separately.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace pgmorph {

// What the target does to the referencing rows when a referenced row is deleted (pg_constraint
// .confdeltype). NO ACTION is checked at the end of the statement (or of the transaction when
// deferred); RESTRICT at once, row by row, and never deferred.
enum class FkAction : char { NoAction, Restrict, Cascade, SetNull, SetDefault };

struct ForeignKey {
  std::string name;   // constraint name
  std::string child;  // "schema.table" holding the reference
  std::vector<std::string> childColumns;
  std::string parent;  // "schema.table" referenced
  std::vector<std::string> parentColumns;
  bool deferrable = false;
  bool initiallyDeferred = false;
  FkAction onDelete = FkAction::NoAction;
  bool nullable = true;  // every child column may hold NULL
  // On the target now (not a suspended key), not deferrable, and its triggers enabled: a row
  // naming a missing parent fails its own statement (unless the session's
  // session_replication_role is replica, which the sink checks itself).
  bool checksAtOnce = false;
};

// From pg_constraint.confdeltype ('a', 'r', 'c', 'n', 'd'); NO ACTION for anything else.
FkAction fkActionFromCatalog(char confdeltype);

struct FkCycle {
  std::vector<std::string> tables;       // sorted
  std::vector<std::string> constraints;  // names of the FKs between these tables, sorted
  bool allDeferrable = false;            // every constraint of the cycle is DEFERRABLE
};

class FkGraph {
 public:
  FkGraph() = default;
  // `tables`: the tables of interest ("schema.table"). FKs whose child or parent is not among
  // them are kept for lookup but do not order anything.
  FkGraph(std::vector<std::string> tables, std::vector<ForeignKey> foreignKeys);

  // Tables grouped by level: every table's parents are in earlier levels, except for members
  // of one cycle, which share a level. Within a level, tables are sorted by name.
  const std::vector<std::vector<std::string>>& levels() const { return levels_; }
  // Position of a table in a parent-first order (equal for members of one cycle); -1 if unknown.
  int rank(const std::string& table) const;
  const std::vector<FkCycle>& cycles() const { return cycles_; }
  // FKs of a table onto itself.
  const std::vector<ForeignKey>& selfReferences() const { return selfRefs_; }
  const std::vector<ForeignKey>& foreignKeys() const { return fks_; }
  // FKs held by `child` (all of them, including those to tables outside the graph).
  std::vector<const ForeignKey*> parentsOf(const std::string& child) const;

 private:
  std::vector<std::string> tables_;
  std::vector<ForeignKey> fks_;
  std::vector<ForeignKey> selfRefs_;
  std::vector<std::vector<std::string>> levels_;
  std::vector<FkCycle> cycles_;
  std::unordered_map<std::string, int> rank_;
};

}  // namespace pgmorph
