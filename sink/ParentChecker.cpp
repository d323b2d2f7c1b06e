#include "sink/ParentChecker.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstring>

#include "sink/BinaryArray.h"

namespace pgmorph {

namespace {
const std::vector<ParentRef> kNoRefs;
}

const ParentChecker::ParentTarget* ParentChecker::parentOf(std::span<const WritePlan> plans,
                                                           const std::string& sourceTable) {
  auto known = parentTargets_.find(sourceTable);
  if (known != parentTargets_.end()) return known->second ? &*known->second : nullptr;
  // The rows a source table's key names live in its upsert target; with several (fan-out),
  // the one without a `where:` (it holds every row), else the first.
  const WritePlan* best = nullptr;
  for (const WritePlan& p : plans) {
    if (!p.source || !p.mapping || p.source->idName != sourceTable ||
        p.mapping->mode != TargetMode::Upsert)
      continue;
    if (!best || (!best->mapping->where.empty() && p.mapping->where.empty())) best = &p;
  }
  auto& slot = parentTargets_[sourceTable];
  if (best) slot = ParentTarget{best->targetSchema + "." + best->targetTable, best->idColumn};
  return slot ? &*slot : nullptr;
}

int ParentChecker::addTable(const std::string& name, const std::string& column,
                            const TargetCatalog& catalog) {
  auto it = byName_.find(name);
  if (it != byName_.end()) return it->second;
  Table t;
  t.name = name;
  t.idColumn = column;
  t.idType = "uuid";
  if (const TargetTable* table = catalog.table(name))
    if (const TargetColumn* c = table->find(column)) t.idType = c->type;
  tables_.push_back(std::move(t));
  int index = static_cast<int>(tables_.size()) - 1;
  byName_.emplace(name, index);
  return index;
}

ParentChecker::ParentChecker(const TargetCatalog& catalog, std::span<const WritePlan> plans,
                             std::size_t cacheLimit)
    : cacheLimit_(cacheLimit) {
  for (const WritePlan& plan : plans) {
    std::string child = plan.targetName();
    PlanRefs refs;
    refs.own.column = ParentRef::kOwnRow;
    refs.own.columnName = plan.idColumn;
    refs.own.parent = addTable(child, plan.idColumn, catalog);
    refs.own.sourceParent = plan.mapping && plan.mapping->mode == TargetMode::Update
                                ? plan.mapping->keyTable
                                : (plan.source ? plan.source->idName : std::string());
    auto fks = catalog.graph().parentsOf(child);
    for (std::size_t i = 0; i < plan.columns.size() && i < plan.refTables.size(); ++i) {
      if (plan.refTables[i].empty()) continue;
      // The mapping's `ref:` is the contract, not the target's constraints: a reference is
      // checked whether a foreign key enforces it or not. With one, its parent is the key's
      // table; without, the table that the referenced source table's rows land in.
      auto fk = std::find_if(fks.begin(), fks.end(), [&](const ForeignKey* k) {
        return k->childColumns.size() == 1 && k->childColumns[0] == plan.columns[i];
      });
      const ParentTarget* parent = nullptr;
      if (fk == fks.end()) {
        parent = parentOf(plans, plan.refTables[i]);
        if (!parent) continue;  // the referenced source table has no row-owning target
      }
      ParentRef r;
      r.column = i;
      r.columnName = plan.columns[i];
      r.enforced = fk != fks.end();
      r.checkedByTarget = r.enforced && (*fk)->checksAtOnce;
      r.parent = r.enforced ? addTable((*fk)->parent, (*fk)->parentColumns.at(0), catalog)
                            : addTable(parent->table, parent->idColumn, catalog);
      r.sourceParent = plan.refTables[i];
      if (plan.mapping)
        for (const auto& m : plan.mapping->columns)
          if (m.target == plan.columns[i]) r.onMissing = m.onMissing;
      refs.refs.push_back(std::move(r));
    }
    // Only rows something may ask about are worth remembering: parents of a reference, and
    // the rows a partial target completes (its SetColumns' own row).
    for (const ParentRef& r : refs.refs) tables_[r.parent].referenced = true;
    if (plan.mapping && plan.mapping->mode == TargetMode::Update)
      tables_[refs.own.parent].referenced = true;
    plans_.emplace(&plan, std::move(refs));
  }
}

std::span<const ParentRef> ParentChecker::refs(const WritePlan& plan) const {
  auto it = plans_.find(&plan);
  return it == plans_.end() ? std::span<const ParentRef>(kNoRefs) : it->second.refs;
}

const ParentRef& ParentChecker::ownRow(const WritePlan& plan) const {
  return plans_.at(&plan).own;
}

int ParentChecker::table(const std::string& qualified) const {
  auto it = byName_.find(qualified);
  return it == byName_.end() ? -1 : it->second;
}

bool ParentChecker::knownPresent(int table, const Uuid& id) const {
  return tables_[table].present.contains(id);
}

bool ParentChecker::knownPresentAnywhere(const Uuid& id) const {
  for (const Table& t : tables_)
    if (t.present.contains(id)) return true;
  return false;
}

bool ParentChecker::cache(int table, const Uuid& id) {
  // A table nothing references is never asked about: its rows would only push the ones that
  // are out of the bounded cache (a snapshot's 600,000 notifications emptied it three times
  // over, and the orders their children name were looked up again).
  if (!tables_[table].referenced) return false;
  if (cached_ >= cacheLimit_) clearCache();
  if (!tables_[table].present.insert(id)) return false;
  ++cached_;
  return true;
}

void ParentChecker::notePresent(int table, const Uuid& id) {
  if (cache(table, id)) noteLanded(table, id);
}

void ParentChecker::noteLanded(int table, const Uuid& id) {
  // Kept apart from the cache, which a large table empties again and again: what this
  // transaction saw is published when it commits, up to kMaxPending ids (16 bytes each) per
  // transaction; past that, the other workers look the rest up.
  if (!committed_ || !tables_[table].referenced || pending_ >= kMaxPending) return;
  if (uncommitted_.size() < tables_.size()) uncommitted_.resize(tables_.size());
  uncommitted_[static_cast<std::size_t>(table)].push_back(id);
  ++pending_;
}

void ParentChecker::noteGone(int table, const Uuid& id) {
  if (tables_[table].present.erase(id)) --cached_;
  if (!committed_) return;
  // Gone from the shared rows at once, though other sessions still see the row until this
  // transaction commits: forgetting it early only costs them a lookup; later would let one
  // of them take a parked parent for present. And not published by committed() if this
  // transaction noted it present before.
  committed_->remove(tables_[table].name, id);
  if (gone_.size() < tables_.size()) gone_.resize(tables_.size());
  gone_[static_cast<std::size_t>(table)].insert(id);
}

void ParentChecker::noteTruncated(int table) {
  cached_ -= tables_[table].present.size();
  tables_[table].present.clear();
  if (!committed_) return;
  committed_->removeTable(tables_[table].name);
  if (uncommitted_.size() > static_cast<std::size_t>(table)) {
    pending_ -= uncommitted_[static_cast<std::size_t>(table)].size();
    uncommitted_[static_cast<std::size_t>(table)].clear();
  }
}

void ParentChecker::clearCache() {
  for (auto& t : tables_) t.present.clear();
  cached_ = 0;
}

void ParentChecker::forget() {
  clearCache();
  // Rolled back: nothing this transaction noted is there.
  for (auto& ids : uncommitted_) ids.clear();
  for (auto& ids : gone_) ids.clear();
  pending_ = 0;
}

void ParentChecker::committed() {
  if (!committed_) return;
  std::vector<Uuid> landed;
  for (std::size_t t = 0; t < uncommitted_.size(); ++t) {
    auto& ids = uncommitted_[t];
    if (ids.empty()) continue;
    landed.clear();
    for (const Uuid& id : ids)
      if (t >= gone_.size() || !gone_[t].contains(id)) landed.push_back(id);
    committed_->add(tables_[t].name, landed);
    ids.clear();
  }
  for (auto& ids : gone_) ids.clear();
  pending_ = 0;
}

void ParentChecker::lookup(PgConnection& target, int table, std::span<const Uuid> ids,
                           std::vector<char>& present) {
  present.assign(ids.size(), 0);
  if (ids.empty()) return;
  Table& t = tables_[table];
  // Rows another worker committed: no statement for them. Remembered in the cache without
  // being published again (they are there already).
  std::vector<Uuid> ask;
  if (committed_ && committed_->find(t.name, ids, present) > 0) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!present[i])
        ask.push_back(ids[i]);
      else
        cache(table, ids[i]);
    }
    if (ask.empty()) return;
  }
  // What the target is asked about: the ids not found above.
  const std::span<const Uuid> asked = ask.empty() ? ids : std::span<const Uuid>(ask);
  auto dot = t.name.find('.');
  std::string qualified = target.quoteQualified(t.name.substr(0, dot), t.name.substr(dot + 1));
  std::unordered_set<Uuid, UuidHash> found;
  // One statement per parent table and batch; the array is a parameter, never SQL text.
  if (t.idType == "uuid") {
    // A uuid key goes both ways in binary (16 bytes per id): the server neither parses an
    // array literal nor formats the ids it returns, and neither does pgmorph (see BinaryArray).
    BinaryArray array;
    array.reset(BinaryType::Uuid);
    for (const Uuid& id : asked) array.addUuid(id);
    std::string_view bytes = array.bytes();
    std::string sql = fmt::format("SELECT {0} FROM {1} WHERE {0} = ANY($1::uuid[])",
                                  target.quoteIdent(t.idColumn), qualified);
    const char* values[] = {bytes.data()};
    const int lengths[] = {static_cast<int>(bytes.size())};
    const int formats[] = {1};
    const Oid types[] = {BinaryArray::arrayOid(BinaryType::Uuid)};
    PgResult res(PQexecParams(target.get(), sql.c_str(), 1, types, values, lengths, formats, 1));
    target.check(res, sql);
    for (int r = 0; r < res.rows(); ++r) {
      std::string_view v = res.value(r, 0);
      if (v.size() != 16) continue;
      Uuid id;
      std::memcpy(id.bytes.data(), v.data(), 16);
      found.insert(id);
    }
  } else {
    std::string array = "{";
    for (const Uuid& id : asked) {
      if (array.size() > 1) array += ',';
      array += id.str();
    }
    array += '}';
    auto res = target.execParams(fmt::format("SELECT {0}::text FROM {1} WHERE {0} = ANY($1::{2}[])",
                                             target.quoteIdent(t.idColumn), qualified, t.idType),
                                 {array});
    for (int r = 0; r < res.rows(); ++r) {
      try {
        found.insert(Uuid::parse(res.value(r, 0)));
      } catch (const std::invalid_argument&) {
      }
    }
  }
  ++lookups_;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!found.count(ids[i])) continue;
    present[i] = 1;
    notePresent(table, ids[i]);
  }
}

std::string ParentChecker::describeAbsent(const WritePlan& plan, const ParentRef& ref,
                                          const Uuid& id) const {
  if (ref.column == ParentRef::kOwnRow)
    return fmt::format("the {} row {} it completes is not on the target", tableName(ref.parent),
                       id.str());
  return fmt::format("{}.{} names {} {}{}, which is not on the target", plan.targetTable,
                     ref.columnName, tableName(ref.parent), id.str(),
                     ref.sourceParent.empty() ? "" : fmt::format(" (a {} row)", ref.sourceParent));
}

std::string describeMissingParent(std::string_view what, std::string_view missing, RowPolicy policy,
                                  std::string_view column, std::string_view rerun) {
  switch (policy) {
    case RowPolicy::Park:
      return fmt::format("{}: {}; parked until it arrives (on_missing: park)", what, missing);
    case RowPolicy::Null:
      return fmt::format("{}: {}; written as NULL, filled in when it arrives (on_missing: null)",
                         what, missing);
    case RowPolicy::Fail:
      break;
  }
  return fmt::format(
      "{}: {}, and the mapping says on_missing: {} for {}. Load the missing row into the target "
      "(or set on_missing to park or null for that column) and {}",
      what, missing, toString(policy), column, rerun);
}

}  // namespace pgmorph
