#include "sink/ParkingApplier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "cdc/model/Errors.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

using namespace std::chrono_literals;

// How often the names of the tables parked rows wait for are read again (`pgmorph parked
// retry` run by hand may park a row for a new parent table while follow runs).
constexpr auto kRefreshEvery = 10s;
// Batches decided on facts only after a tentative one was refused.
constexpr unsigned kFactsOnlyAfterWithdrawal = 16;

// The shared state must describe the same plans (ParentChecker knows them by address) and
// catalog as the applier's.
std::shared_ptr<ParkingShared> checkedShared(std::shared_ptr<ParkingShared> shared,
                                             const TargetCatalog& catalog,
                                             std::span<const WritePlan> plans) {
  if (!shared) throw std::logic_error("ParkingApplier: no ParkingShared given");
  if (shared->catalog != &catalog || shared->plans.data() != plans.data() ||
      shared->plans.size() != plans.size())
    throw std::logic_error(
        "ParkingApplier: the ParkingShared given was built over other plans or another catalog");
  return shared;
}

}  // namespace

ParkingApplier::ParkingApplier(PgConnection& target, std::span<const WritePlan> plans,
                               TargetWriter& writer, const TargetCatalog& catalog,
                               BatchOrderer& orderer, const ParkedStore& store,
                               TableCountsMap& counts)
    : ParkingApplier(target, plans, writer, catalog, orderer, store, counts,
                     std::make_shared<ParkingShared>(catalog, plans)) {}

ParkingApplier::ParkingApplier(PgConnection& target, std::span<const WritePlan> plans,
                               TargetWriter& writer, const TargetCatalog& catalog,
                               BatchOrderer& orderer, const ParkedStore& store,
                               TableCountsMap& counts, std::shared_ptr<ParkingShared> shared)
    : target_(target),
      writer_(writer),
      catalog_(catalog),
      orderer_(orderer),
      store_(store),
      counts_(counts),
      codec_(plans),
      shared_(checkedShared(std::move(shared), catalog, plans)),
      sweeper_(shared_->checker, plans),
      gate_(shared_->checker),
      stagingGate_(shared_->checker) {
  store_.ensureSchema(target_);
  refresh();
}

void ParkingApplier::refresh() {
  shared_->anyParked = store_.any(target_);
  shared_->waited.clear();
  for (const auto& t : store_.waitedTables(target_))
    if (int i = shared_->checker.table(t); i >= 0) shared_->waited.insert(i);
  shared_->refreshed = std::chrono::steady_clock::now();
}

void ParkingApplier::forget() {
  // No statement here: the connection may be what failed. What a rolled-back transaction
  // parked is gone, but the sets that remember it are supersets, which only cost a lookup.
  // The checker is the sessions' common one: all it knows goes, which only costs lookups too.
  shared_->checker.forget();
  inFlight_ = false;
  sent_ = false;
  staged_.ordered = nullptr;
  startWrites_ = {};
}

// ---------------------------------------------------------------------------------------
// apply / retry

void ParkingApplier::apply(std::span<TargetWrite> writes) {
  start(writes);
  finish();
}

void ParkingApplier::start(std::span<TargetWrite> writes) {
  if (inFlight_) throw std::logic_error("ParkingApplier::start: the previous batch is in flight");
  if (writes.empty()) return;
  if (std::chrono::steady_clock::now() - shared_->refreshed > kRefreshEvery) refresh();
  startCall();
  // Rows parked earlier may be touched: one at a time with `pgmorph parked retry`.
  if (shared_->anyParked) store_.lock(target_);
  startCarried_.assign(writes.size(), {});
  bool tentative = !shared_->anyParked && factsOnly_ == 0 && foreignKeysFire();
  if (factsOnly_ > 0) --factsOnly_;
  if (!(tentative && sendStaged(writes)))
    roundStart(writes, startCarried_, shared_->anyParked, tentative);
  staged_.ordered = nullptr;
  startWrites_ = writes;
  inFlight_ = true;
}

void ParkingApplier::prestage(std::span<TargetWrite> writes) {
  staged_.ordered = nullptr;
  // What start() would send tentatively (as far as known before the batch in flight is read:
  // start() checks again). keysFire_ unread means a first batch: its start() reads it.
  if (writes.empty() || shared_->anyParked || factsOnly_ > 0 || !keysFire_.value_or(false)) return;
  staged_.groups.build(writes, shared_->checker);
  if (!stagingGate_.settledWithoutTarget(writes, staged_.groups, staged_.assumed)) return;
  auto& orderer = stagingOrderers_[stagingSlot_];
  if (!orderer) orderer = std::make_unique<BatchOrderer>(catalog_.graph());
  staged_.ordered = &orderer->order(writes);
  staged_.writes = writes;
}

bool ParkingApplier::sendStaged(std::span<TargetWrite> writes) {
  if (!staged_.ordered || staged_.writes.data() != writes.data() ||
      staged_.writes.size() != writes.size())
    return false;
  // As roundStart() would have left it: every group live, nothing to merge, park, drop or
  // NULL, the writes in place (kept_ is the identity).
  std::swap(groups_, staged_.groups);
  refusals_.clear();
  kept_.resize(writes.size());
  for (std::size_t i = 0; i < kept_.size(); ++i) kept_[i] = i;
  tentative_ = staged_.assumed;
  // The writer reads this order until finish(); the next prestage() orders into the other one.
  writer_.sendOrdered(*staged_.ordered, tentative_);
  staged_.ordered = nullptr;
  stagingSlot_ ^= 1u;
  sent_ = true;
  ++stagedBatches_;
  return true;
}

void ParkingApplier::finish() {
  if (!inFlight_) return;
  // Cleared first: whatever throws below leaves the transaction rolled back (the caller's
  // abort() follows), and nothing of this batch is in flight any more.
  inFlight_ = false;
  roundFinish(startWrites_, startCarried_, true);
  startWrites_ = {};
  while (nextRound()) round(next_, nextCarried_, false, false);
}

ParkingApplier::RetryReport ParkingApplier::retry(std::span<const std::int64_t> ids,
                                                  const RetryChange& retryChange) {
  store_.lock(target_);  // waits for the stream's open transaction, if it touches parked rows
  refresh();
  startCall();
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
  report.refusedByTarget += counters_.refused;
  report.parentStillMissing += counters_.gated;
  return report;
}

void ParkingApplier::startCall() {
  handled_.clear();
  arrivals_.clear();
  followups_.clear();
  followupCarried_.clear();
  counters_ = {};
}

bool ParkingApplier::nextRound() {
  std::vector<TargetWrite> writes;
  std::vector<std::vector<ParkedRow>> carried;
  writes.swap(followups_);
  carried.swap(followupCarried_);
  if (shared_->anyParked) {
    for (auto& [table, ids] : arrivals_) {
      if (!shared_->waited.count(table)) continue;
      for (ParkedRow& e : store_.waitingFor(target_, shared_->checker.tableName(table), ids)) {
        if (!handled_.insert(e.id).second) continue;
        TargetWrite w;
        std::string why;
        if (!codec_.decode(e, w, why)) {
          spdlog::warn("parked entry {} waited for {} {}, which arrived, but stays parked: {}",
                       e.id, e.missingTable, e.missingId ? e.missingId->str() : "", why);
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
  roundStart(writes, carried, lookupParked);
  roundFinish(writes, carried, allowFollowups);
}

bool ParkingApplier::foreignKeysFire() {
  if (!keysFire_) {
    // In replica mode (a role's default, say) no foreign-key trigger fires: nothing may be
    // assumed, every parent is looked up.
    PgResult r =
        target_.exec("SELECT current_setting('session_replication_role') IN ('origin', 'local')");
    keysFire_ = r.value(0, 0) == "t";
  }
  return *keysFire_;
}

bool ParkingApplier::gateTentatively(std::span<TargetWrite> writes) {
  gate_.check(target_, writes, groups_, true);
  if (!gate_.assumed()) return false;  // decided on facts alone: nothing to withdraw
  bool asIs = true;
  for (const WriteGroup& g : groups_.all())
    if (g.state != WriteGroup::State::Live || !g.nulled.empty()) asIs = false;
  if (asIs) return true;
  // Something is parked or NULLed anyway: the writes would change in place, which a withdrawn
  // pass could not undo. Decided on facts instead (the groups afresh: check() set their states).
  groups_.build(writes, shared_->checker);
  gate_.check(target_, writes, groups_);
  return false;
}

void ParkingApplier::roundStart(std::span<TargetWrite> writes,
                                std::vector<std::vector<ParkedRow>>& carried, bool lookupParked,
                                bool tentative) {
  groups_.build(writes, shared_->checker);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (carried[i].empty() || groups_.groupOf(i) < 0) continue;
    auto& mine = groups_[groups_.groupOf(i)].carried;
    for (auto& e : carried[i]) mine.push_back(std::move(e));
    carried[i].clear();
  }
  if (lookupParked) takeParkedEntries(writes);
  // Tentative only without carried entries or a merge (see "Assumed parents").
  const bool mayAssume =
      tentative && !lookupParked &&
      std::all_of(carried.begin(), carried.end(), [](const auto& c) { return c.empty(); });
  tentative_ = mayAssume && gateTentatively(writes);
  if (!mayAssume) gate_.check(target_, writes, groups_);
  gate_.decideDrops(writes, groups_);
  // Parked and dropped groups go before the writes move (their net effect is read in place).
  TargetWrite net;
  for (WriteGroup& g : groups_.all()) {
    if (g.state == WriteGroup::State::Live) continue;
    if (g.state == WriteGroup::State::Dropped) {
      removeEntries(g.carried, false);
      ++counters_.dropped;
      continue;
    }
    WriteGroups::netEffect(writes, g, net);
    parkGroup(g, net, ParkKind::MissingParent, nullptr);
  }
  sendLive(writes);
}

void ParkingApplier::roundFinish(std::span<TargetWrite> writes,
                                 std::vector<std::vector<ParkedRow>>& carried,
                                 bool allowFollowups) {
  auto onRefused = [this](const RefusedRow& row, const TargetWrite& w) {
    refusals_.push_back(Refusal{row, w});
    return RefusalAction::Skip;
  };
  if (sent_ && !writer_.finishOrdered(onRefused)) {
    // The target refused the tentative batch, rolled back whole: the same writes (unchanged:
    // everything stayed live) are decided again on facts and sent as they would have been.
    factsOnly_ = kFactsOnlyAfterWithdrawal;
    sent_ = false;
    roundStart(writes, carried, false, false);
    if (sent_) writer_.finishOrdered(onRefused);
  }
  sent_ = false;
  settleRefusals(carried, allowFollowups);
  settleLanded(writes, carried);
  if (!gone_.empty() || !emptied_.empty()) sweepOrphans();
}

void ParkingApplier::sendLive(std::span<TargetWrite> writes) {
  refusals_.clear();
  kept_.clear();
  // References written as NULL now (on_missing: null), in every write of the group that gives
  // that value.
  for (WriteGroup& g : groups_.all()) {
    if (g.state != WriteGroup::State::Live || g.nulled.empty()) continue;
    for (const WriteGroup::Nulled& n : g.nulled)
      for (std::size_t i : g.writes) {
        ValueState s;
        std::string_view text = valueOf(writes[i], n.ref->column, s);
        if (s != ValueState::Present || text != n.text) continue;
        TargetWrite nulled;
        WriteEdits::withNull(writes[i], n.ref->column, nulled);
        writes[i] = std::move(nulled);
      }
  }
  // Compaction: live writes to the front, in source order.
  std::size_t k = 0;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    int g = groups_.groupOf(i);
    if (g >= 0 && groups_[g].state != WriteGroup::State::Live) continue;
    if (i != k) std::swap(writes[k], writes[i]);
    kept_.push_back(i);
    ++k;
  }
  if (k == 0) return;
  // The ordered batch lives in orderer_ until its next order(), which only the next round
  // calls: after roundFinish() has read this one.
  writer_.sendOrdered(orderer_.order(writes.first(k)), tentative_);
  sent_ = true;
}

// ---------------------------------------------------------------------------------------
// the parked table and the counts

void ParkingApplier::parkGroup(WriteGroup& g, const TargetWrite& w, ParkKind kind,
                               const RefusedRow* refusal) {
  ParkedRow r = ParkedWriteCodec::encode(w);
  r.kind = kind;
  if (kind == ParkKind::MissingParent && g.missing) {
    r.missingTable = shared_->checker.tableName(g.missing->parent);
    r.missingId = g.missingId;
    r.missingColumn = g.missing->columnName;
    r.reason = gate_.describeMissing(g, w, *g.missing, g.missingId, RowPolicy::Park);
    shared_->waited.insert(g.missing->parent);
  }
  if (refusal) {
    r.sqlstate = refusal->sqlstate;
    if (kind == ParkKind::Refused) r.reason = RefusedRowError::describe(*refusal);
  }
  shared_->anyParked = true;
  if (!g.carried.empty()) {
    store_.repark(target_, g.carried.front().id, r);
    ++counters_.reparked;
    ++(refusal ? counters_.refused : counters_.gated);
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

void ParkingApplier::parkNullReference(const WriteGroup& g, const WriteGroup::Nulled& n,
                                       const TargetWrite& w) {
  TargetWrite fill;
  WriteEdits::fillReference(*g.plan, g.row, w.legacyKey(), n.ref->column, n.text, w.lsn, fill);
  ParkedRow r = ParkedWriteCodec::encode(fill);
  r.kind = ParkKind::NullReference;
  r.missingTable = shared_->checker.tableName(n.ref->parent);
  r.missingId = n.id;
  r.missingColumn = n.ref->columnName;
  r.reason = gate_.describeMissing(g, w, *n.ref, n.id, RowPolicy::Null);
  store_.park(target_, r);
  shared_->anyParked = true;
  shared_->waited.insert(n.ref->parent);
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

}  // namespace pgmorph
