#include "sink/OrphanSweeper.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"
#include "sink/ParkedWriteCodec.h"

namespace pgmorph {

namespace {

std::string uuidArray(const std::vector<Uuid>& ids) {
  std::string out = "{";
  for (const Uuid& id : ids) {
    if (out.size() > 1) out += ',';
    out += id.str();
  }
  out += '}';
  return out;
}

std::string qualifiedOf(const PgConnection& c, const std::string& dotted) {
  auto dot = dotted.find('.');
  return c.quoteQualified(dotted.substr(0, dot), dotted.substr(dot + 1));
}

// The index of the plan's legacy-id column in plan.columns, or npos.
std::size_t legacyColumn(const WritePlan& plan) {
  if (!plan.mapping || !plan.mapping->legacyIdColumn) return std::string::npos;
  auto it = std::find(plan.columns.begin(), plan.columns.end(), *plan.mapping->legacyIdColumn);
  return it == plan.columns.end() ? std::string::npos
                                  : static_cast<std::size_t>(it - plan.columns.begin());
}

}  // namespace

OrphanSweeper::OrphanSweeper(const ParentChecker& checker, std::span<const WritePlan> plans)
    : checker_(checker) {
  for (const WritePlan& plan : plans) {
    bool upsert = plan.mapping && plan.mapping->mode == TargetMode::Upsert;
    for (const ParentRef& ref : checker.refs(plan)) {
      if (ref.enforced || ref.column == ParentRef::kOwnRow) continue;
      // Parking takes the whole row off the target: only a row this plan owns.
      if (ref.onMissing == RowPolicy::Null || (ref.onMissing == RowPolicy::Park && upsert))
        byParent_[ref.parent].push_back(Child{&plan, &ref});
    }
  }
}

void OrphanSweeper::sweep(PgConnection& target,
                          const std::unordered_map<int, std::vector<Uuid>>& gone,
                          const std::unordered_set<int>& truncated, Result& out) const {
  for (const auto& [parent, children] : byParent_) {
    bool emptied = truncated.count(parent) != 0;
    auto it = gone.find(parent);
    if (!emptied && (it == gone.end() || it->second.empty())) continue;
    for (const Child& child : children)
      sweepChild(target, parent, child, emptied ? nullptr : &it->second, out);
  }
}

void OrphanSweeper::sweepChild(PgConnection& target, int parent, const Child& child,
                               const std::vector<Uuid>* ids, Result& out) const {
  const WritePlan& plan = *child.plan;
  const ParentRef& ref = *child.ref;
  std::string table = target.quoteQualified(plan.targetSchema, plan.targetTable);
  std::string column = target.quoteIdent(ref.columnName);
  // Only rows whose parent is really absent now (it may have been deleted and written again).
  std::string where =
      fmt::format("{0} IS NOT NULL AND {1}NOT EXISTS (SELECT 1 FROM {2} p WHERE p.{3} = c.{0})",
                  column, ids ? fmt::format("c.{} = ANY($1::uuid[]) AND ", column) : std::string(),
                  qualifiedOf(target, checker_.tableName(parent)),
                  target.quoteIdent(checker_.idColumn(parent)));
  std::string array = ids ? uuidArray(*ids) : std::string();
  std::vector<std::optional<std::string_view>> params;
  if (ids) params.emplace_back(array);
  std::string id = target.quoteIdent(plan.idColumn);
  std::size_t legacy = legacyColumn(plan);

  if (ref.onMissing == RowPolicy::Fail) {
    auto res = target.execParams(
        fmt::format("SELECT c.{0}::text, {1} FROM {2} c WHERE {3} LIMIT 20", column,
                    legacy == std::string::npos
                        ? std::string("NULL::text")
                        : fmt::format("c.{}::text", target.quoteIdent(plan.columns[legacy])),
                    table, where),
        params);
    for (int r = 0; r < res.rows(); ++r) {
      Failed f;
      f.plan = &plan;
      f.ref = &ref;
      f.parentId = std::string(res.value(r, 0));
      if (!res.isNull(r, 1)) f.legacyKey = std::string(res.value(r, 1));
      out.failed.push_back(std::move(f));
    }
    return;
  }

  if (ref.onMissing == RowPolicy::Null) {
    // The old value comes from the locked read; RETURNING shows only the new (NULL) one.
    auto res = target.execParams(
        fmt::format("WITH o AS (SELECT c.{0} AS row_id, c.{1} AS old FROM {2} c WHERE {3} FOR "
                    "UPDATE) UPDATE {2} c SET {1} = NULL FROM o WHERE c.{0} = o.row_id"
                    " RETURNING c.{0}::text, o.old::text, {4}",
                    id, column, table, where,
                    legacy == std::string::npos
                        ? std::string("NULL::text")
                        : fmt::format("c.{}::text", target.quoteIdent(plan.columns[legacy]))),
        params);
    for (int r = 0; r < res.rows(); ++r) {
      Nulled n;
      n.plan = &plan;
      n.ref = &ref;
      n.row = Uuid::parse(res.value(r, 0));
      n.parentId = std::string(res.value(r, 1));
      if (!res.isNull(r, 2)) n.legacyKey = std::string(res.value(r, 2));
      out.nulled.push_back(std::move(n));
    }
    return;
  }

  // Park: the rows leave the target whole, and wait for their parent in the parked table.
  std::string select;
  for (const auto& c : plan.columns) {
    if (!select.empty()) select += ", ";
    select += fmt::format("c.{}::text", target.quoteIdent(c));
  }
  target.exec("SAVEPOINT pgmorph_orphans");
  PgResult res;
  try {
    res = target.execParams(
        fmt::format("DELETE FROM {} c WHERE {} RETURNING {}", table, where, select), params);
  } catch (const PgError& e) {
    // Rows of another table hold on to these (their foreign key refuses the delete): they
    // stay, named in the log, rather than leaving those rows dangling in turn.
    if (!sqlstate::isIntegrityViolation(e.sqlstate())) throw;
    target.exec("ROLLBACK TO SAVEPOINT pgmorph_orphans");
    target.exec("RELEASE SAVEPOINT pgmorph_orphans");
    spdlog::warn(
        "rows of {}.{} name {} rows that were deleted on the source (ref: {}, on_missing: park, "
        "no foreign key on the target), but cannot be taken off the target to be parked: {}. "
        "They keep their reference until the parent arrives again",
        plan.targetSchema, plan.targetTable, checker_.tableName(parent), ref.sourceParent,
        e.what());
    return;
  }
  target.exec("RELEASE SAVEPOINT pgmorph_orphans");
  const std::size_t refColumn = ref.column;
  for (int r = 0; r < res.rows(); ++r) {
    Parked p;
    p.ref = &ref;
    TargetWrite& w = p.row;
    w.op = WriteOp::Upsert;
    w.plan = &plan;
    for (int c = 0; c < res.columns(); ++c) {
      if (res.isNull(r, c))
        w.addNull();
      else
        w.addValue(res.value(r, c));
    }
    w.row = Uuid::parse(res.value(r, 0));
    if (legacy != std::string::npos && !res.isNull(r, static_cast<int>(legacy)))
      w.setLegacyKey(res.value(r, static_cast<int>(legacy)));
    p.parentId = std::string(res.value(r, static_cast<int>(refColumn)));
    out.parked.push_back(std::move(p));
  }
}

namespace {
// A row is parked whole: only one its plan owns (an upsert target's).
bool sweepable(const WritePlan& plan, const ParentRef& ref) {
  if (ref.column == ParentRef::kOwnRow) return false;
  return ref.onMissing != RowPolicy::Park ||
         (plan.mapping && plan.mapping->mode == TargetMode::Upsert);
}
}  // namespace

void OrphanSweeper::sweepTable(PgConnection& target, const WritePlan& plan, Result& out,
                               std::span<const std::size_t> skip) const {
  for (const ParentRef& ref : checker_.refs(plan)) {
    if (!sweepable(plan, ref) || std::find(skip.begin(), skip.end(), ref.column) != skip.end())
      continue;
    sweepChild(target, ref.parent, Child{&plan, &ref}, nullptr, out);
  }
}

bool OrphanSweeper::sweepColumn(PgConnection& target, const WritePlan& plan,
                                const std::string& column, Result& out) const {
  bool found = false;
  for (const ParentRef& ref : checker_.refs(plan)) {
    if (ref.columnName != column || !sweepable(plan, ref)) continue;
    sweepChild(target, ref.parent, Child{&plan, &ref}, nullptr, out);
    found = true;
  }
  return found;
}

ParkedRow OrphanSweeper::parkedRow(const Nulled& n, Lsn lsn) const {
  const WritePlan& plan = *n.plan;
  TargetWrite fill;
  WriteEdits::fillReference(plan, n.row, n.legacyKey, n.ref->column, n.parentId, lsn, fill);
  ParkedRow r = ParkedWriteCodec::encode(fill);
  r.kind = ParkKind::NullReference;
  r.missingTable = checker_.tableName(n.ref->parent);
  r.missingId = Uuid::parse(n.parentId);  // read from a uuid column
  r.missingColumn = n.ref->columnName;
  r.reason = fmt::format(
      "{}.{} names {} {} (a {} row), which is not on the target; written as NULL, filled in when "
      "it arrives (on_missing: null)",
      plan.targetTable, n.ref->columnName, r.missingTable, n.parentId, n.ref->sourceParent);
  return r;
}

ParkedRow OrphanSweeper::parkedRow(Parked& p, Lsn lsn) const {
  const WritePlan& plan = *p.row.plan;
  p.row.lsn = lsn;
  ParkedRow r = ParkedWriteCodec::encode(p.row);
  r.kind = ParkKind::MissingParent;
  r.missingTable = checker_.tableName(p.ref->parent);
  r.missingId = Uuid::parse(p.parentId);  // read from a uuid column
  r.missingColumn = p.ref->columnName;
  r.reason = fmt::format(
      "{}.{} names {} {} (a {} row), which is not on the target; the row is parked until it "
      "arrives (on_missing: park)",
      plan.targetTable, p.ref->columnName, r.missingTable, p.parentId, p.ref->sourceParent);
  return r;
}

std::string OrphanSweeper::describe(const Failed& f, std::string_view rerun) const {
  std::string what = fmt::format("the {} row {} in {}.{}", ParkedWriteCodec::sourceName(*f.plan),
                                 f.legacyKey.empty() ? std::string("(no legacy key)") : f.legacyKey,
                                 f.plan->targetSchema, f.plan->targetTable);
  Uuid id;
  try {
    id = Uuid::parse(f.parentId);
  } catch (const std::invalid_argument&) {
  }
  return describeMissingParent(what, checker_.describeAbsent(*f.plan, *f.ref, id), RowPolicy::Fail,
                               f.ref->columnName, rerun);
}

}  // namespace pgmorph
