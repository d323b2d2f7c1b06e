#include "app/snapshot/SnapshotPlan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "cdc/model/Errors.h"
#include "sink/BulkLoadPolicy.h"

namespace pgmorph {

std::pair<std::string, std::string> splitQualifiedName(const std::string& qualified) {
  auto dot = qualified.find('.');
  return {qualified.substr(0, dot), qualified.substr(dot + 1)};
}

namespace {

std::string qualified(const std::string& schema, const std::string& table) {
  return schema + "." + table;
}

std::vector<std::string> columnsRead(const TableMapping& table) {
  std::set<std::string> names(table.keyColumns.begin(), table.keyColumns.end());
  for (const auto& t : table.targets) {
    names.insert(t.keyColumns.begin(), t.keyColumns.end());
    for (const auto& c : t.columns) names.insert(c.source);
    for (const auto& w : t.where) names.insert(w.column);
  }
  return {names.begin(), names.end()};
}

// Target columns a mapping writes (see WritePlan: id and legacy id for upserts, mapped
// columns, constants).
std::set<std::string> columnsWritten(const TargetMapping& m) {
  std::set<std::string> out;
  if (m.mode == TargetMode::Upsert) {
    out.insert(m.idColumn);
    if (m.legacyIdColumn) out.insert(*m.legacyIdColumn);
  }
  for (const auto& c : m.columns) out.insert(c.target);
  for (const auto& c : m.set) out.insert(c.target);
  return out;
}

}  // namespace

std::vector<std::string> SnapshotPlan::targetTables(const PipelineConfig& config) {
  std::set<std::string> out;
  for (const auto& table : config.tables)
    for (const auto& t : table.targets) out.insert(qualified(t.targetSchema, t.target));
  return {out.begin(), out.end()};
}

std::vector<std::size_t> SnapshotPlan::partialsOnForeignTables() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < tasks_.size(); ++i)
    if (tasks_[i].partial &&
        std::find(owned_.begin(), owned_.end(), tasks_[i].targetTable) == owned_.end())
      out.push_back(i);
  return out;
}

namespace {
// The target table that holds the rows of source table `idName` (its upsert target; the one
// without `where:` when it has several), as ParentChecker picks it; "" when none.
std::string refTargetTable(const PipelineConfig& config, const std::string& idName) {
  std::string found;
  for (const auto& table : config.tables) {
    if (table.idName != idName) continue;
    for (const auto& target : table.targets) {
      if (target.mode != TargetMode::Upsert) continue;
      if (found.empty() || target.where.empty())
        found = qualified(target.targetSchema, target.target);
      if (target.where.empty()) return found;
    }
  }
  return found;
}
}  // namespace

SnapshotPlan SnapshotPlan::build(const PipelineConfig& config, const TargetCatalog& catalog) {
  SnapshotPlan plan;
  const FkGraph& graph = catalog.graph();

  std::vector<std::string> missing;
  for (const auto& name : targetTables(config))
    if (!catalog.table(name)) missing.push_back(name);
  if (!missing.empty())
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("the mapping writes target tables that do not exist on the "
                                   "target database: {}. Create them (the target schema) first",
                                   fmt::join(missing, ", ")));

  std::set<std::string> selfRef;
  for (const auto& fk : graph.selfReferences()) selfRef.insert(fk.child);
  std::map<std::string, std::size_t> cycleOf;
  for (std::size_t c = 0; c < graph.cycles().size(); ++c)
    for (const auto& t : graph.cycles()[c].tables) cycleOf[t] = c;

  std::vector<std::set<std::string>> written;
  for (std::size_t ti = 0; ti < config.tables.size(); ++ti) {
    const TableMapping& table = config.tables[ti];
    auto columns = columnsRead(table);
    for (std::size_t k = 0; k < table.targets.size(); ++k) {
      const TargetMapping& target = table.targets[k];
      SnapshotTask task;
      task.tableIndex = ti;
      task.targetIndex = k;
      task.sourceTable = qualified(table.sourceSchema, table.sourceTable);
      task.targetTable = qualified(target.targetSchema, target.target);
      task.partial = target.mode == TargetMode::Update;
      task.id = fmt::format("{} <- {} #{}", task.targetTable, task.sourceTable, k);
      task.sourceColumns = columns;
      task.selfReferencing = selfRef.count(task.targetTable) > 0;
      task.inCycle = cycleOf.count(task.targetTable) > 0;
      plan.tasks_.push_back(std::move(task));
      written.push_back(columnsWritten(target));
    }
  }

  // Cycles among tables that upsert tasks load must be loadable in one deferred transaction.
  std::set<std::size_t> usedCycles;
  for (const auto& t : plan.tasks_)
    if (!t.partial && t.inCycle) usedCycles.insert(cycleOf[t.targetTable]);
  std::vector<std::string> refused;
  // The bulk load (snapshot.defer_indexes) drops the foreign keys that a `ref:` writes until
  // the copy is done: a non-deferrable key among those does not get in the way of the cycle.
  std::optional<SuspendPolicy> suspends;
  if (config.snapshot.deferIndexes) suspends = bulkLoadPolicy(config);
  for (std::size_t c : usedCycles) {
    const FkCycle& cycle = graph.cycles()[c];
    std::vector<std::string> fix, suspended;
    for (const auto& fk : graph.foreignKeys()) {
      if (fk.deferrable || !cycleOf.count(fk.child) || cycleOf[fk.child] != c ||
          !cycleOf.count(fk.parent) || cycleOf[fk.parent] != c || fk.child == fk.parent)
        continue;
      if (suspends &&
          suspends->foreignKeyCovered(fk.child, fk.childColumns, fk.parent, fk.parentColumns))
        suspended.push_back(fk.name);
      else
        fix.push_back(
            fmt::format("ALTER TABLE {} ALTER CONSTRAINT {} DEFERRABLE", fk.child, fk.name));
    }
    if (!fix.empty()) {
      refused.push_back(fmt::format(
          "the target's foreign keys form a cycle between {} (constraints {}), and not all of "
          "them are DEFERRABLE, so no order of tables can load it. Make them deferrable ({}) "
          "and the snapshot copies the cycle in one transaction with the constraints deferred{}",
          fmt::join(cycle.tables, ", "), fmt::join(cycle.constraints, ", "), fmt::join(fix, "; "),
          config.snapshot.deferIndexes
              ? ""
              : ", or leave snapshot.defer_indexes at true (the bulk load suspends a foreign "
                "key that a ref: writes)"));
    } else {
      plan.cycleNotes_.push_back(fmt::format(
          "the target's foreign keys form a cycle between {} (constraints {}): these tables are "
          "copied in one transaction with the constraints deferred{}",
          fmt::join(cycle.tables, ", "), fmt::join(cycle.constraints, ", "),
          suspended.empty() ? std::string()
                            : fmt::format(" or, not deferrable ({}), suspended by the bulk load",
                                          fmt::join(suspended, ", "))));
    }
  }
  if (!refused.empty())
    throw PgmorphError(ErrorClass::Operator, fmt::format("{}", fmt::join(refused, "\n")));

  // Groups: one per cycle, one per other upsert task, one per target table of partial tasks.
  std::map<std::size_t, std::size_t> cycleGroup;
  std::map<std::string, std::size_t> partialGroup;
  std::vector<SnapshotGroup> groups;
  for (std::size_t i = 0; i < plan.tasks_.size(); ++i) {
    auto& t = plan.tasks_[i];
    std::size_t* slot = nullptr;
    if (t.partial)
      slot = partialGroup.count(t.targetTable) ? &partialGroup[t.targetTable] : nullptr;
    else if (t.inCycle)
      slot =
          cycleGroup.count(cycleOf[t.targetTable]) ? &cycleGroup[cycleOf[t.targetTable]] : nullptr;
    if (slot) {
      t.group = *slot;
    } else {
      t.group = groups.size();
      groups.push_back(SnapshotGroup{{}, !t.partial && t.inCycle, {}});
      if (t.partial) partialGroup[t.targetTable] = t.group;
      if (!t.partial && t.inCycle) cycleGroup[cycleOf[t.targetTable]] = t.group;
    }
    groups[t.group].tasks.push_back(i);
  }
  // Upsert groups loading each table.
  std::map<std::string, std::set<std::size_t>> loaders;
  for (const auto& t : plan.tasks_)
    if (!t.partial) loaders[t.targetTable].insert(t.group);
  std::vector<std::set<std::size_t>> after(groups.size());
  for (std::size_t i = 0; i < plan.tasks_.size(); ++i) {
    const auto& t = plan.tasks_[i];
    auto wait = [&](const std::string& table) {
      for (std::size_t g : loaders[table])
        if (g != t.group) after[t.group].insert(g);
    };
    if (t.partial) wait(t.targetTable);
    for (const ForeignKey* fk : graph.parentsOf(t.targetTable)) {
      if (fk->parent == fk->child) continue;  // one COPY checks its own rows at its end
      bool writes = std::any_of(fk->childColumns.begin(), fk->childColumns.end(),
                                [&](const std::string& c) { return written[i].count(c) > 0; });
      if (writes) wait(fk->parent);
    }
  }
  // A `ref:` column that no foreign key covers is checked against its parent's rows on the
  // target all the same (ParentChecker: on_missing is the mapping's contract), so the parent
  // table is loaded first too — unless that closes a circle of waits (references without
  // keys that point at each other); then the one that would close it is logged.
  auto waitsFor = [&](std::size_t from, std::size_t target) {
    std::vector<std::size_t> stack{from};
    std::set<std::size_t> seen;
    while (!stack.empty()) {
      std::size_t g = stack.back();
      stack.pop_back();
      if (g == target) return true;
      if (!seen.insert(g).second) continue;
      stack.insert(stack.end(), after[g].begin(), after[g].end());
    }
    return false;
  };
  for (std::size_t i = 0; i < plan.tasks_.size(); ++i) {
    const auto& t = plan.tasks_[i];
    const TargetMapping& target = config.tables[t.tableIndex].targets[t.targetIndex];
    auto fks = graph.parentsOf(t.targetTable);
    for (const ColumnMapping& c : target.columns) {
      if (!c.ref) continue;
      bool keyed = std::any_of(fks.begin(), fks.end(), [&](const ForeignKey* k) {
        return k->childColumns.size() == 1 && k->childColumns[0] == c.target;
      });
      if (keyed) continue;
      std::string parent = refTargetTable(config, *c.ref);
      if (parent.empty() || parent == t.targetTable) continue;
      for (std::size_t g : loaders[parent]) {
        if (g == t.group) continue;
        if (waitsFor(g, t.group)) {
          std::pair<std::string, std::string> late{t.targetTable, c.target};
          if (std::find(plan.lateChecks_.begin(), plan.lateChecks_.end(), late) ==
              plan.lateChecks_.end()) {
            plan.lateChecks_.push_back(late);
            plan.cycleNotes_.push_back(fmt::format(
                "{}.{} (ref: {}, no foreign key) is copied before {}, which waits for it: its "
                "references are checked once every table is copied (on_missing)",
                t.targetTable, c.target, *c.ref, parent));
          }
          continue;
        }
        after[t.group].insert(g);
      }
    }
  }
  // Topological order (Kahn), stable by first task: parents first.
  std::vector<std::size_t> order, pending(groups.size());
  std::vector<std::vector<std::size_t>> dependents(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    pending[g] = after[g].size();
    for (std::size_t p : after[g]) dependents[p].push_back(g);
  }
  std::set<std::size_t> ready;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (!pending[g]) ready.insert(g);
  while (!ready.empty()) {
    std::size_t g = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(g);
    for (std::size_t d : dependents[g])
      if (--pending[d] == 0) ready.insert(d);
  }
  if (order.size() != groups.size())
    throw std::logic_error("snapshot plan: the groups' dependencies form a cycle");
  std::vector<std::size_t> position(groups.size());
  for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (std::size_t i = 0; i < order.size(); ++i) {
    SnapshotGroup g = groups[order[i]];
    g.after.clear();
    for (std::size_t p : after[order[i]]) g.after.push_back(position[p]);
    std::sort(g.after.begin(), g.after.end());
    plan.groups_.push_back(std::move(g));
  }
  for (auto& t : plan.tasks_) t.group = position[t.group];

  // Owned tables, children first.
  std::set<std::string> owned;
  for (const auto& t : plan.tasks_)
    if (!t.partial) owned.insert(t.targetTable);
  for (auto level = graph.levels().rbegin(); level != graph.levels().rend(); ++level)
    for (const auto& table : *level)
      if (owned.count(table)) plan.owned_.push_back(table);
  return plan;
}

}  // namespace pgmorph
