#include "sink/ParkingApplier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

using namespace std::chrono_literals;

// How often the names of the tables parked rows wait for are read again (`pgmorph parked
// retry` run by hand may park a row for a new parent table while follow runs).
constexpr auto kRefreshEvery = 10s;

bool upsertPlan(const WritePlan& plan) {
  return !plan.mapping || plan.mapping->mode == TargetMode::Upsert;
}

std::string_view stateOf(const TargetWrite& w, std::size_t i, ValueState& state) {
  auto values = w.values();
  if (i >= values.size()) {
    state = ValueState::Absent;
    return {};
  }
  state = values[i].state;
  return state == ValueState::Present ? w.text(values[i]) : std::string_view();
}

}  // namespace

std::size_t ParkingApplier::RowKeyHash::operator()(const RowKey& k) const noexcept {
  return UuidHash{}(k.row) * 31 + static_cast<std::size_t>(k.table);
}

std::size_t ParkingApplier::GroupKeyHash::operator()(const GroupKey& k) const noexcept {
  return UuidHash{}(k.row) ^ (std::hash<const void*>{}(k.plan) * 31) ^ (k.epoch * 131);
}

ParkingApplier::ParkingApplier(PgConnection& target, std::span<const WritePlan> plans,
                               TargetWriter& writer, const TargetCatalog& catalog,
                               BatchOrderer& orderer, const ParkedStore& store,
                               TableCountsMap& counts)
    : target_(target),
      writer_(writer),
      catalog_(catalog),
      orderer_(orderer),
      store_(store),
      counts_(counts),
      codec_(plans),
      checker_(catalog, plans),
      sweeper_(checker_, plans) {
  store_.ensureSchema(target_);
  refresh();
}

void ParkingApplier::refresh() {
  anyParked_ = store_.any(target_);
  waited_.clear();
  for (const auto& t : store_.waitedTables(target_))
    if (int i = checker_.table(t); i >= 0) waited_.insert(i);
  refreshed_ = std::chrono::steady_clock::now();
}

void ParkingApplier::forget() {
  // No statement here: the connection may be what failed. What a rolled-back transaction
  // parked is gone, but the sets that remember it are supersets, which only cost a lookup.
  checker_.forget();
}

// ---------------------------------------------------------------------------------------
// apply / retry

void ParkingApplier::apply(std::span<TargetWrite> writes) {
  if (writes.empty()) return;
  if (std::chrono::steady_clock::now() - refreshed_ > kRefreshEvery) refresh();
  handled_.clear();
  arrivals_.clear();
  followups_.clear();
  followupCarried_.clear();
  counters_ = {};
  // Rows parked earlier may be touched: one at a time with `pgmorph parked retry`.
  if (anyParked_) store_.lock(target_);
  std::vector<std::vector<ParkedRow>> carried(writes.size());
  round(writes, carried, anyParked_, true);
  while (nextRound()) round(next_, nextCarried_, false, false);
}

ParkingApplier::RetryReport ParkingApplier::retry(std::span<const std::int64_t> ids,
                                                  const RetryChange& retryChange) {
  store_.lock(target_);  // waits for the stream's open transaction, if it touches parked rows
  refresh();
  handled_.clear();
  arrivals_.clear();
  followups_.clear();
  followupCarried_.clear();
  counters_ = {};
  RetryReport report;
  std::vector<ParkedRow> rows = ids.empty() ? store_.list(target_, {}) : store_.byIds(target_, ids);
  report.tried = rows.size();
  next_.clear();
  nextCarried_.clear();
  WriteBatch transformed;
  for (ParkedRow& r : rows) {
    handled_.insert(r.id);
    if (r.kind == ParkKind::Unconvertible) {
      transformed.clear();
      if (!retryChange(r, transformed)) {
        ++report.stillParked;
        continue;
      }
      ++report.applied;
      for (const TargetWrite& w : transformed.writes()) {
        next_.push_back(w);
        nextCarried_.emplace_back();
      }
      continue;
    }
    TargetWrite w;
    std::string why;
    if (!codec_.decode(r, w, why)) {
      spdlog::warn("parked entry {} stays parked: {}", r.id, why);
      ++report.stillParked;
      continue;
    }
    next_.push_back(std::move(w));
    nextCarried_.push_back({std::move(r)});
  }
  if (!next_.empty()) {
    round(next_, nextCarried_, false, true);
    while (nextRound()) round(next_, nextCarried_, false, false);
  }
  report.applied += counters_.landed;
  report.stillParked += counters_.reparked;
  report.moot += counters_.dropped;
  return report;
}

bool ParkingApplier::nextRound() {
  std::vector<TargetWrite> writes;
  std::vector<std::vector<ParkedRow>> carried;
  writes.swap(followups_);
  carried.swap(followupCarried_);
  if (anyParked_) {
    for (auto& [table, ids] : arrivals_) {
      if (!waited_.count(table)) continue;
      std::vector<std::string> text;
      text.reserve(ids.size());
      for (const Uuid& id : ids) text.push_back(id.str());
      for (ParkedRow& e : store_.waitingFor(target_, checker_.tableName(table), text)) {
        if (!handled_.insert(e.id).second) continue;
        TargetWrite w;
        std::string why;
        if (!codec_.decode(e, w, why)) {
          spdlog::warn("parked entry {} waited for {} {}, which arrived, but stays parked: {}",
                       e.id, e.missingTable, e.missingId.value_or(""), why);
          continue;
        }
        writes.push_back(std::move(w));
        carried.push_back({std::move(e)});
      }
    }
  }
  arrivals_.clear();
  next_.swap(writes);
  nextCarried_.swap(carried);
  return !next_.empty();
}

// ---------------------------------------------------------------------------------------
// one round

void ParkingApplier::round(std::span<TargetWrite> writes,
                           std::vector<std::vector<ParkedRow>>& carried, bool lookupParked,
                           bool allowFollowups) {
  buildGroups(writes);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (carried[i].empty() || groupOf_[i] < 0) continue;
    auto& mine = groups_[static_cast<std::size_t>(groupOf_[i])].carried;
    for (auto& e : carried[i]) mine.push_back(std::move(e));
    carried[i].clear();
  }
  if (lookupParked) takeParkedEntries(writes);
  checkParents(writes);
  decideDrops(writes);
  // Parked and dropped groups go before the writes move (their net effect is read in place).
  TargetWrite net;
  for (Group& g : groups_) {
    if (g.state == Group::State::Live) continue;
    if (g.state == Group::State::Dropped) {
      removeEntries(g.carried, false);
      ++counters_.dropped;
      continue;
    }
    netEffect(writes, g, net);
    parkGroup(g, net, ParkKind::MissingParent, nullptr);
  }
  applyLive(writes);

  // What the target refused.
  for (Refusal& r : refusals_) {
    std::size_t orig = kept_[r.row.writeIndex];
    int gi = groupOf_[orig];
    if (gi >= 0) groups_[static_cast<std::size_t>(gi)].refused = true;
  }
  for (Refusal& r : refusals_) {
    std::size_t orig = kept_[r.row.writeIndex];
    int gi = groupOf_[orig];
    if (gi < 0) {
      // A delete, release or truncate: parked as refused, with what it stood for.
      Group loose;
      loose.plan = r.write.plan;
      loose.row = r.write.row;
      loose.table = tableOf_[orig];
      loose.op = r.write.op;
      loose.carried = std::move(carried[orig]);
      parkGroup(loose, r.write, ParkKind::Refused, &r.row);
      continue;
    }
    Group& g = groups_[static_cast<std::size_t>(gi)];
    TargetWrite w;
    w = r.write;
    for (const Nulled& n : g.nulled) {
      TargetWrite restored;
      WriteEdits::withValue(w, n.ref->column, n.text, restored);
      w = std::move(restored);
    }
    if (r.row.sqlstate == sqlstate::kForeignKeyViolation) {
      auto ref = std::find_if(g.refs.begin(), g.refs.end(), [&](const GroupRef& gr) {
        return gr.ref->column != ParentRef::kOwnRow && gr.ref->columnName == r.row.column;
      });
      if (ref != g.refs.end()) {
        // Known missing now, whatever this process thought.
        checker_.noteGone(ref->ref->parent, ref->id);
        if (ref->ref->onMissing == RowPolicy::Fail)
          throw PgmorphError(ErrorClass::Operator,
                             describeMissing(g, w, *ref->ref, ref->id, RowPolicy::Fail));
        if (ref->ref->onMissing == RowPolicy::Null && allowFollowups) {
          // Once more, through the checks, which will now write NULL and keep the reference.
          followups_.push_back(std::move(w));
          followupCarried_.push_back(std::move(g.carried));
          g.carried.clear();
          continue;
        }
        g.missing = ref->ref;
        g.missingId = ref->id;
        parkGroup(g, w, ParkKind::MissingParent, &r.row);
        continue;
      }
    }
    if (r.row.sqlstate == sqlstate::kNoData && g.op == WriteOp::SetColumns) {
      g.missing = &checker_.ownRow(*g.plan);
      g.missingId = g.row;
      checker_.noteGone(g.table, g.row);
      parkGroup(g, w, ParkKind::MissingParent, &r.row);
      continue;
    }
    parkGroup(g, w, ParkKind::Refused, &r.row);
  }

  // What landed.
  std::vector<char> refusedAt(writes.size(), 0);
  for (const Refusal& r : refusals_) refusedAt[kept_[r.row.writeIndex]] = 1;
  for (std::size_t k = 0; k < kept_.size(); ++k) {
    std::size_t orig = kept_[k];
    const TargetWrite& w = writes[k];
    int gi = groupOf_[orig];
    bool landed = gi >= 0 ? !groups_[static_cast<std::size_t>(gi)].refused : !refusedAt[orig];
    if (landed) ++countsOf(*w.plan).applied;
    if (gi >= 0 || !landed) continue;
    if (w.op == WriteOp::Delete) checker_.noteGone(tableOf_[orig], w.row);
    if (w.op == WriteOp::Truncate) checker_.noteTruncated(tableOf_[orig]);
    if ((w.op == WriteOp::Delete || w.op == WriteOp::Truncate) &&
        sweeper_.watches(tableOf_[orig])) {
      if (w.op == WriteOp::Delete)
        gone_[tableOf_[orig]].push_back(w.row);
      else
        emptied_.insert(tableOf_[orig]);
      goneLsn_ = std::max(goneLsn_, w.lsn);
    }
    removeEntries(carried[orig], true);
  }
  for (Group& g : groups_) {
    if (g.state != Group::State::Live || g.refused) continue;
    removeEntries(g.carried, true);
    // The row is deleted later in this batch (the upsert is kept for what references it in
    // between): no reference to fill in, and it is not there for what comes next — neither a
    // parent to remember as present (the deletes above already said it is gone) nor an
    // arrival for the rows that wait for it.
    auto del = lastDelete_.find(RowKey{g.table, g.row});
    auto trunc = lastTruncate_.find(g.table);
    bool goneLater = (del != lastDelete_.end() && del->second > g.writes.back()) ||
                     (trunc != lastTruncate_.end() && trunc->second > g.writes.back());
    if (g.op == WriteOp::Upsert && upsertPlan(*g.plan) && !goneLater) {
      arrivals_[g.table].push_back(g.row);
      checker_.notePresent(g.table, g.row);
    }
    if (!g.nulled.empty() && !goneLater) {
      // The write as sent: find one of its writes (moved by the compaction) for key and lsn.
      const TargetWrite* any = nullptr;
      for (std::size_t k = 0; k < kept_.size() && !any; ++k)
        if (groupOf_[kept_[k]] == static_cast<int>(&g - groups_.data())) any = &writes[k];
      for (const Nulled& n : g.nulled) parkNullReference(g, n, *any);
    }
  }
  if (!gone_.empty() || !emptied_.empty()) sweepOrphans();
}

void ParkingApplier::sweepOrphans() {
  // Parking a child takes it off the target, which may orphan its own children in turn: to a
  // fixpoint (each pass only finds rows that still name an absent parent, so this ends).
  while (!gone_.empty() || !emptied_.empty()) {
    OrphanSweeper::Result found;
    sweeper_.sweep(target_, gone_, emptied_, found);
    gone_.clear();
    emptied_.clear();
    for (const OrphanSweeper::Nulled& n : found.nulled) {
      ParkedRow r = sweeper_.parkedRow(n, goneLsn_);
      r.reason = fmt::format(
          "{}.{} named {} {} (a {} row), which was deleted on the source; written as NULL, filled "
          "in when it arrives again (on_missing: null)",
          n.plan->targetTable, n.ref->columnName, r.missingTable, n.parentId, n.ref->sourceParent);
      store_.park(target_, r);
      waited_.insert(n.ref->parent);
      ++countsOf(*n.plan).nulled;
    }
    for (OrphanSweeper::Parked& p : found.parked) {
      const WritePlan& plan = *p.row.plan;
      ParkedRow r = sweeper_.parkedRow(p, goneLsn_);
      r.reason = fmt::format(
          "{}.{} names {} {} (a {} row), which was deleted on the source; the row is parked until "
          "it arrives again (on_missing: park)",
          plan.targetTable, p.ref->columnName, r.missingTable, p.parentId, p.ref->sourceParent);
      store_.park(target_, r);
      waited_.insert(p.ref->parent);
      ++countsOf(plan).parked;
      int own = checker_.table(plan.targetSchema + "." + plan.targetTable);
      if (own < 0) continue;
      checker_.noteGone(own, p.row.row);
      if (sweeper_.watches(own)) gone_[own].push_back(p.row.row);
    }
    if (!found.nulled.empty() || !found.parked.empty()) {
      anyParked_ = true;
      spdlog::info(
          "rows naming parents deleted on the source (references without a target foreign key): "
          "{} set to NULL, {} parked until their parent arrives again",
          found.nulled.size(), found.parked.size());
    }
  }
  goneLsn_ = Lsn();
}

void ParkingApplier::buildGroups(std::span<TargetWrite> writes) {
  const std::size_t n = writes.size();
  groups_.clear();
  groupOf_.assign(n, -1);
  tableOf_.assign(n, -1);
  open_.clear();
  epoch_.clear();
  events_.clear();
  lastDelete_.clear();
  lastTruncate_.clear();
  db_.clear();
  releases_.clear();
  truncates_.clear();
  std::unordered_map<int, std::uint32_t> tableEpoch;
  for (std::size_t i = 0; i < n; ++i) {
    const TargetWrite& w = writes[i];
    const int t = checker_.table(ParkedWriteCodec::targetName(*w.plan));
    tableOf_[i] = t;
    const RowKey rk{t, w.row};
    switch (w.op) {
      case WriteOp::Upsert:
      case WriteOp::SetColumns: {
        // A group ends where its row is deleted (or its table truncated): what comes after
        // is a new row as far as the target is concerned.
        std::uint32_t epoch = epoch_[rk] + (tableEpoch[t] << 16);
        epoch = epoch * 2 + (w.op == WriteOp::SetColumns ? 1 : 0);
        auto [it, fresh] =
            open_.try_emplace(GroupKey{w.plan, w.row, epoch}, static_cast<int>(groups_.size()));
        if (fresh) {
          Group g;
          g.plan = w.plan;
          g.row = w.row;
          g.table = t;
          g.op = w.op;
          groups_.push_back(std::move(g));
        }
        groups_[static_cast<std::size_t>(it->second)].writes.push_back(i);
        groupOf_[i] = it->second;
        if (w.op == WriteOp::Upsert && upsertPlan(*w.plan)) events_[rk] = Event{it->second, i};
        break;
      }
      case WriteOp::Delete:
        events_[rk] = Event{-1, i};
        lastDelete_[rk] = i;
        ++epoch_[rk];
        break;
      case WriteOp::Truncate:
        lastTruncate_[t] = i;
        ++tableEpoch[t];
        truncates_.push_back(i);
        break;
      case WriteOp::Release:
        releases_.push_back(i);
        break;
    }
  }
}

void ParkingApplier::takeParkedEntries(std::span<TargetWrite> writes) {
  std::vector<std::string> ids;
  std::unordered_set<Uuid, UuidHash> seen;
  std::unordered_map<RowKey, std::size_t, RowKeyHash> firstDelete;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const TargetWrite& w = writes[i];
    if (w.op != WriteOp::Upsert && w.op != WriteOp::SetColumns && w.op != WriteOp::Delete) continue;
    if (w.op == WriteOp::Delete) firstDelete.try_emplace(RowKey{tableOf_[i], w.row}, i);
    if (seen.insert(w.row).second) ids.push_back(w.row.str());
  }
  std::vector<ParkedRow> moot;
  auto firstGroup = [&](const WritePlan* plan, const Uuid& row, WriteOp op) -> int {
    auto it = open_.find(GroupKey{plan, row, op == WriteOp::SetColumns ? 1u : 0u});
    return it == open_.end() ? -1 : it->second;
  };
  auto truncatedBefore = [&](int table, std::size_t index) {
    for (std::size_t t : truncates_)
      if (tableOf_[t] == table && t < index) return true;
    return false;
  };
  for (ParkedRow& e : store_.onRows(target_, ids)) {
    if (e.kind == ParkKind::Unconvertible || handled_.count(e.id) || !e.rowId) continue;
    const int t = checker_.table(e.targetTable);
    if (t < 0) continue;
    Uuid row;
    try {
      row = Uuid::parse(*e.rowId);
    } catch (const std::invalid_argument&) {
      continue;
    }
    const RowKey rk{t, row};
    const WritePlan* plan = codec_.plan(e.plan);
    auto del = firstDelete.find(rk);
    const std::size_t deletedAt = del == firstDelete.end() ? writes.size() : del->second;
    if (e.kind == ParkKind::NullReference) {
      // The reference to fill in is moot once a later write sets that column itself, or the
      // row goes away.
      bool superseded = deletedAt < writes.size() || truncatedBefore(t, writes.size());
      for (WriteOp op : {WriteOp::Upsert, WriteOp::SetColumns}) {
        int g = plan ? firstGroup(plan, row, op) : -1;
        if (g < 0) continue;
        auto col = std::find(plan->columns.begin(), plan->columns.end(), e.missingColumn);
        if (col == plan->columns.end()) continue;
        std::size_t c = static_cast<std::size_t>(col - plan->columns.begin());
        for (std::size_t i : groups_[static_cast<std::size_t>(g)].writes) {
          ValueState s;
          stateOf(writes[i], c, s);
          superseded = superseded || s != ValueState::Absent;
        }
      }
      if (superseded) {
        handled_.insert(e.id);
        moot.push_back(std::move(e));
      }
      continue;
    }
    WriteOp op = e.op == "set_columns" ? WriteOp::SetColumns : WriteOp::Upsert;
    int g = plan && (e.op == "upsert" || e.op == "set_columns") ? firstGroup(plan, row, op) : -1;
    std::size_t first =
        g >= 0 ? groups_[static_cast<std::size_t>(g)].writes.front() : writes.size();
    bool goneFirst = deletedAt < first || truncatedBefore(t, first);
    if (g >= 0 && !goneFirst) {
      // A later write of a parked row: one write, the parked values under the new ones.
      TargetWrite parked, merged;
      std::string why;
      if (!codec_.decode(e, parked, why)) {
        spdlog::warn("parked entry {} cannot be merged with a later write of its row: {}", e.id,
                     why);
        continue;
      }
      WriteEdits::overlay(parked, writes[first], merged);
      writes[first] = std::move(merged);
      handled_.insert(e.id);
      groups_[static_cast<std::size_t>(g)].carried.push_back(std::move(e));
      continue;
    }
    bool rewritten = false;
    if (e.op != "upsert" && e.op != "set_columns")
      for (const Group& gr : groups_) rewritten = rewritten || (gr.table == t && gr.row == row);
    if (goneFirst || rewritten) {
      handled_.insert(e.id);
      moot.push_back(std::move(e));
    }
  }
  // A release that stops naming a row: the parked completion of that row is moot.
  std::unordered_map<const WritePlan*, std::vector<ParkedRow>> partials;
  for (std::size_t r : releases_) {
    const TargetWrite& rel = writes[r];
    auto [it, fresh] = partials.try_emplace(rel.plan);
    if (fresh)
      it->second = store_.ofPlan(target_, ParkedWriteCodec::planKey(*rel.plan), "set_columns");
    for (ParkedRow& e : it->second) {
      if (handled_.count(e.id)) continue;
      if (rel.hasRow && e.rowId == rel.row.str()) continue;
      bool match = true;
      auto owners = rel.values();
      for (std::size_t k = 0; k < rel.plan->ownerColumns.size() && match; ++k) {
        auto v = std::find_if(e.values.begin(), e.values.end(), [&](const ParkedValue& pv) {
          return pv.column == rel.plan->ownerColumns[k];
        });
        match = k < owners.size() && owners[k].state == ValueState::Present &&
                v != e.values.end() && v->state == ParkedValue::State::Present &&
                v->text == rel.text(owners[k]);
      }
      if (!match) continue;
      handled_.insert(e.id);
      moot.push_back(e);
    }
  }
  for (std::size_t t : truncates_)
    for (ParkedRow& e : store_.ofPlan(target_, ParkedWriteCodec::planKey(*writes[t].plan))) {
      if (!handled_.insert(e.id).second) continue;
      moot.push_back(std::move(e));
    }
  removeEntries(moot, false);
}

ParkingApplier::Status ParkingApplier::status(int table, const Uuid& id) const {
  const RowKey rk{table, id};
  auto trunc = lastTruncate_.find(table);
  const long truncated = trunc == lastTruncate_.end() ? -1 : static_cast<long>(trunc->second);
  auto ev = events_.find(rk);
  if (ev != events_.end() && static_cast<long>(ev->second.index) > truncated) {
    if (ev->second.group < 0) return Status::Missing;
    if (groups_[static_cast<std::size_t>(ev->second.group)].state == Group::State::Live)
      return Status::Present;
    // Its upsert is parked: the target may still have the row as it was.
  }
  if (truncated >= 0) return Status::Missing;
  if (checker_.knownPresent(table, id)) return Status::Present;
  auto db = db_.find(rk);
  if (db != db_.end()) return db->second ? Status::Present : Status::Missing;
  return Status::Unknown;
}

void ParkingApplier::checkParents(std::span<TargetWrite> writes) {
  // The references of each group's net effect: the last value each column is given.
  for (Group& g : groups_) {
    g.refs.clear();
    for (const ParentRef& ref : checker_.refs(*g.plan)) {
      for (auto it = g.writes.rbegin(); it != g.writes.rend(); ++it) {
        ValueState s;
        std::string_view text = stateOf(writes[*it], ref.column, s);
        if (s == ValueState::Absent) continue;
        if (s == ValueState::Present) {
          try {
            g.refs.push_back(GroupRef{&ref, Uuid::parse(text), std::string(text)});
          } catch (const std::invalid_argument&) {
            // Not a UUID: nothing to look up; the target decides.
          }
        }
        break;
      }
    }
    if (g.op == WriteOp::SetColumns)
      g.refs.push_back(GroupRef{&checker_.ownRow(*g.plan), g.row, g.row.str()});
  }
  // To a fixpoint: a group parked for a missing parent makes its own row missing for the
  // groups that reference it (chains, in any order of the batch).
  std::unordered_map<int, std::vector<Uuid>> need;
  std::unordered_set<RowKey, RowKeyHash> asked;
  std::vector<char> present;
  for (;;) {
    need.clear();
    asked.clear();
    bool changed = false;
    for (Group& g : groups_) {
      if (g.state != Group::State::Live) continue;
      for (const GroupRef& r : g.refs) {
        Status s = status(r.ref->parent, r.id);
        if (s == Status::Unknown) {
          if (asked.insert(RowKey{r.ref->parent, r.id}).second) need[r.ref->parent].push_back(r.id);
          continue;
        }
        if (s == Status::Present) continue;
        if (r.ref->onMissing == RowPolicy::Fail) {
          const TargetWrite& w = writes[g.writes.back()];
          throw PgmorphError(ErrorClass::Operator,
                             describeMissing(g, w, *r.ref, r.id, RowPolicy::Fail));
        }
        if (r.ref->onMissing == RowPolicy::Null && r.ref->column != ParentRef::kOwnRow) {
          bool known = std::any_of(g.nulled.begin(), g.nulled.end(),
                                   [&](const Nulled& n) { return n.ref == r.ref; });
          if (!known) g.nulled.push_back(Nulled{r.ref, r.id, r.text});
          continue;
        }
        // A reference to fill in whose own row is gone (deleted, truncated): nothing to fill.
        bool fill = g.op == WriteOp::SetColumns && upsertPlan(*g.plan);
        g.state = fill && r.ref->column == ParentRef::kOwnRow ? Group::State::Dropped
                                                              : Group::State::Parked;
        g.missing = r.ref;
        g.missingId = r.id;
        changed = true;
        break;
      }
    }
    if (!need.empty()) {
      for (auto& [table, ids] : need) {
        checker_.lookup(target_, table, ids, present);
        for (std::size_t i = 0; i < ids.size(); ++i) db_[RowKey{table, ids[i]}] = present[i] != 0;
      }
      continue;
    }
    if (!changed) break;
  }
  for (Group& g : groups_)
    if (g.state != Group::State::Live) g.nulled.clear();
}

void ParkingApplier::decideDrops(std::span<TargetWrite> writes) {
  for (Group& g : groups_) {
    if (g.state != Group::State::Parked) continue;
    const std::size_t last = g.writes.back();
    auto del = lastDelete_.find(RowKey{g.table, g.row});
    auto trunc = lastTruncate_.find(g.table);
    // The row ends deleted on the source: nothing to keep for it.
    if ((del != lastDelete_.end() && del->second > last) ||
        (trunc != lastTruncate_.end() && trunc->second > last)) {
      g.state = Group::State::Dropped;
      continue;
    }
    if (g.op != WriteOp::SetColumns || upsertPlan(*g.plan)) continue;
    // A later release that stops naming this row (the order now names another jaw).
    for (std::size_t r : releases_) {
      const TargetWrite& rel = writes[r];
      if (r < last || rel.plan != g.plan || (rel.hasRow && rel.row == g.row)) continue;
      bool match = true;
      auto owners = rel.values();
      for (std::size_t k = 0; k < g.plan->ownerColumns.size() && match; ++k) {
        auto col =
            std::find(g.plan->columns.begin(), g.plan->columns.end(), g.plan->ownerColumns[k]);
        std::size_t c = static_cast<std::size_t>(col - g.plan->columns.begin());
        std::string_view mine;
        ValueState s = ValueState::Absent;
        for (auto it = g.writes.rbegin(); it != g.writes.rend() && s == ValueState::Absent; ++it)
          mine = stateOf(writes[*it], c, s);
        match = k < owners.size() && owners[k].state == ValueState::Present &&
                s == ValueState::Present && mine == rel.text(owners[k]);
      }
      if (match) {
        g.state = Group::State::Dropped;
        break;
      }
    }
  }
}

void ParkingApplier::applyLive(std::span<TargetWrite> writes) {
  refusals_.clear();
  kept_.clear();
  // References written as NULL now (on_missing: null), in every write of the group that gives
  // that value.
  for (Group& g : groups_) {
    if (g.state != Group::State::Live || g.nulled.empty()) continue;
    for (const Nulled& n : g.nulled)
      for (std::size_t i : g.writes) {
        ValueState s;
        std::string_view text = stateOf(writes[i], n.ref->column, s);
        if (s != ValueState::Present || text != n.text) continue;
        TargetWrite nulled;
        WriteEdits::withNull(writes[i], n.ref->column, nulled);
        writes[i] = std::move(nulled);
      }
  }
  // Compaction: live writes to the front, in source order.
  std::size_t k = 0;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    int g = groupOf_[i];
    if (g >= 0 && groups_[static_cast<std::size_t>(g)].state != Group::State::Live) continue;
    if (i != k) std::swap(writes[k], writes[i]);
    kept_.push_back(i);
    ++k;
  }
  if (k == 0) return;
  const OrderedBatch& batch = orderer_.order(writes.first(k));
  writer_.applyOrdered(batch, [this](const RefusedRow& row, const TargetWrite& w) {
    refusals_.push_back(Refusal{row, w});
    return RefusalAction::Skip;
  });
}

void ParkingApplier::netEffect(std::span<TargetWrite> writes, const Group& g,
                               TargetWrite& out) const {
  out = writes[g.writes.front()];
  for (std::size_t k = 1; k < g.writes.size(); ++k) {
    TargetWrite next;
    WriteEdits::overlay(out, writes[g.writes[k]], next);
    out = std::move(next);
  }
}

void ParkingApplier::parkGroup(Group& g, const TargetWrite& w, ParkKind kind,
                               const RefusedRow* refusal) {
  ParkedRow r = ParkedWriteCodec::encode(w);
  r.kind = kind;
  if (kind == ParkKind::MissingParent && g.missing) {
    r.missingTable = checker_.tableName(g.missing->parent);
    r.missingId = g.missingId.str();
    r.missingColumn = g.missing->columnName;
    r.reason = describeMissing(g, w, *g.missing, g.missingId, RowPolicy::Park);
    waited_.insert(g.missing->parent);
  }
  if (refusal) {
    r.sqlstate = refusal->sqlstate;
    if (kind == ParkKind::Refused) r.reason = RefusedRowError::describe(*refusal);
  }
  anyParked_ = true;
  if (!g.carried.empty()) {
    store_.repark(target_, g.carried.front().id, r);
    ++counters_.reparked;
    std::vector<ParkedRow> rest(std::make_move_iterator(g.carried.begin() + 1),
                                std::make_move_iterator(g.carried.end()));
    removeEntries(rest, false);
    g.carried.clear();
    return;
  }
  store_.park(target_, r);
  ++countsOf(*w.plan).parked;
  spdlog::debug("parked: {}", r.reason);
}

void ParkingApplier::parkNullReference(const Group& g, const Nulled& n, const TargetWrite& w) {
  TargetWrite fill;
  WriteEdits::fillReference(*g.plan, g.row, w.legacyKey(), n.ref->column, n.text, w.lsn, fill);
  ParkedRow r = ParkedWriteCodec::encode(fill);
  r.kind = ParkKind::NullReference;
  r.missingTable = checker_.tableName(n.ref->parent);
  r.missingId = n.id.str();
  r.missingColumn = n.ref->columnName;
  r.reason = describeMissing(g, w, *n.ref, n.id, RowPolicy::Null);
  store_.park(target_, r);
  anyParked_ = true;
  waited_.insert(n.ref->parent);
  ++countsOf(*g.plan).nulled;
}

TableCounts& ParkingApplier::countsOf(const WritePlan& plan) {
  auto [it, fresh] = planCounts_.try_emplace(&plan, nullptr);
  if (fresh) it->second = &counts_[ParkedWriteCodec::sourceName(plan)];
  return *it->second;
}

void ParkingApplier::removeEntries(const std::vector<ParkedRow>& rows, bool landed) {
  if (rows.empty()) return;
  std::vector<std::int64_t> ids;
  for (const ParkedRow& r : rows) {
    ids.push_back(r.id);
    auto& c = counts_[r.sourceTable];
    if (landed) {
      ++c.unparked;
      ++counters_.landed;
    } else {
      ++c.discarded;
    }
  }
  store_.remove(target_, ids);
}

std::string ParkingApplier::describeMissing(const Group& g, const TargetWrite& w,
                                            const ParentRef& ref, const Uuid& id,
                                            RowPolicy policy) const {
  const WritePlan& plan = *g.plan;
  std::string what =
      fmt::format("{} of {} {} into {}", toString(w.op), ParkedWriteCodec::sourceName(plan),
                  w.legacyKey(), ParkedWriteCodec::targetName(plan));
  return describeMissingParent(what, checker_.describeAbsent(plan, ref, id), policy, ref.columnName,
                               "start again; the target transaction was rolled back.");
}

}  // namespace pgmorph
