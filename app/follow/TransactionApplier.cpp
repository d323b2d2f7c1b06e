#include "app/follow/TransactionApplier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/time.h>

#include <algorithm>

#include "app/follow/ApplyTarget.h"
#include "cdc/model/Errors.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {
std::int64_t nowMicros() {
  timeval tv;
  ::gettimeofday(&tv, nullptr);
  return static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}
}  // namespace

TransactionApplier::TransactionApplier(const PipelineConfig& config, Transformer& transformer,
                                       TargetWriter& writer, Lsn checkpoint, ApplyStats& stats)
    : config_(config),
      transformer_(transformer),
      writer_(writer),
      stats_(stats),
      catalog_(TargetCatalog::read(writer.connection(), transformer.targetTables())),
      orderer_(catalog_.graph()),
      parked_(config.target.stateSchema, config.pipeline),
      parkingShared_(std::make_shared<ParkingShared>(catalog_, transformer.plans())),
      parking_(writer.connection(), transformer.plans(), writer, catalog_, orderer_, parked_,
               stats.tables, parkingShared_),
      changes_(writer.connection(), transformer.config(), parked_, stats.tables),
      drift_(config, writer.connection()),
      checkpoint_(checkpoint),
      unmappedStore_(config.target.stateSchema, config.pipeline) {
  changes_.load();
  stats_.checkpoint = checkpoint;
  openLanes();
}

void TransactionApplier::openLanes() {
  auto first = std::make_unique<Lane>();
  first->writer = &writer_;
  first->parking = &parking_;
  lanes_.push_back(std::move(first));
  if (config_.apply.sessions <= 1) return;
  // A wait for another session's lock can run against the commit order (see "Sessions"):
  // bounded, on every session, so that it surfaces as an error instead of a hang.
  const std::string lockTimeout =
      fmt::format("SET lock_timeout = {}", config_.apply.lockTimeoutMillis);
  writer_.connection().exec(lockTimeout);
  for (std::uint32_t i = 1; i < config_.apply.sessions; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->conn = std::make_unique<PgConnection>(openApplyTarget(config_));
    lane->conn->exec(lockTimeout);
    lane->ownWriter =
        std::make_unique<TargetWriter>(*lane->conn, writer_.checkpoints(), config_.source.slot);
    lane->ownOrderer = std::make_unique<BatchOrderer>(catalog_.graph());
    lane->ownParking = std::make_unique<ParkingApplier>(
        *lane->conn, transformer_.plans(), *lane->ownWriter, catalog_, *lane->ownOrderer, parked_,
        stats_.tables, parkingShared_);
    lane->writer = lane->ownWriter.get();
    lane->parking = lane->ownParking.get();
    lanes_.push_back(std::move(lane));
  }
}

int TransactionApplier::inFlightSocket() const {
  if (queue_.empty() || !queue_.front()->parking->inFlight()) return -1;
  return queue_.front()->writer->connection().socket();
}

bool TransactionApplier::inFlightAnswered() const {
  if (queue_.empty() || !queue_.front()->parking->inFlight()) return true;
  PGconn* conn = queue_.front()->writer->connection().get();
  // A broken connection says so when the batch is finished: answered, so that happens now.
  if (PQconsumeInput(conn) == 0) return true;
  return PQisBusy(conn) == 0;
}

bool TransactionApplier::hasPendingCommits() const {
  if (pendingCommits_ > 0) return true;
  for (const auto& lane : lanes_)
    if (lane->commit) return true;
  return false;
}

bool TransactionApplier::batchFull() const {
  if (!pendingOpen_) return false;
  if (changesInTarget_ >= config_.apply.batchChanges) return true;
  // The writes buffered are three quarters of the chunk size: hand them over at this source
  // commit rather than as a chunk cut in the middle of the next source transaction (a chunk keeps
  // its target transaction open, so it cannot run beside another session's, and it commits only
  // with the source transaction it cuts).
  if (batch_.size() * 4 >= config_.apply.batchChanges * 3) return true;
  auto open = std::chrono::steady_clock::now() - pendingOpenedAt_;
  return open >= std::chrono::milliseconds(config_.apply.batchMillis);
}

void TransactionApplier::markPendingOpen() {
  if (pendingOpen_) return;
  pendingOpen_ = true;
  // changesInTarget_ is not reset here: changes buffered before go into the same commit (it is
  // reset where the pending bookkeeping is handed over: takePending, abort).
  pendingOpenedAt_ = std::chrono::steady_clock::now();
}

void TransactionApplier::beginTargetIfNeeded() {
  if (!fill_) {
    // A target transaction without a batch (the checkpoint alone, or ChangeParker's writes):
    // after everything sent before it, on the first session.
    finishInFlight();
    fill_ = lanes_.front().get();
  }
  if (fill_->open) return;
  fill_->writer->begin();
  fill_->open = true;
  queue_.push_back(fill_);
}

bool TransactionApplier::parallelAllowed() const {
  // One at a time: one session; after a lock wait between sessions until the checkpoint passes
  // it; while anything is parked (its retries follow the sequential order); a chunk of a source
  // transaction not yet committed; ChangeParker about to use the target.
  return lanes_.size() > 1 && !serialOnly_ && !inSource_ && checkpoint_ >= stats_.serialUntil &&
         !parkingShared_->anyParked;
}

bool TransactionApplier::chooseLane() {
  bool committed = false;
  const bool parallel = parallelAllowed();
  // The batch's keys, once: what the lanes in flight are checked against, and then the lane's.
  keys_.clear();
  if (lanes_.size() > 1) keys_.add(batch_.writes());
  if (!parallel || !keys_.keyable()) {
    // The batch's decisions are made while the target still runs what is in flight, not
    // after it has answered and committed (ParkingApplier, "Staging").
    if (!queue_.empty()) lanes_.front()->parking->prestage(batch_.writes());
    committed = finishInFlight();
    fill_ = lanes_.front().get();
    std::swap(fill_->keys, keys_);
    ++stats_.batchesStarted;
    ++stats_.batchesAlone;
    return committed;
  }
  // A free session first: if every one is busy, the oldest is finished (commits go in order).
  if (queue_.size() >= lanes_.size()) committed |= finishThrough(queue_.front());
  for (auto& lane : lanes_)
    if (!lane->open) {
      fill_ = lane.get();
      break;
    }
  ParentChecker& checker = parkingShared_->checker;
  auto known = [&checker](const Uuid& id) { return checker.knownPresentAnywhere(id); };
  // Rule 4 of WriteKeys (a parent upserted by one batch, referenced by the other) only holds
  // when the parent may be new. What this process has not seen yet is looked up on the free
  // session (committed rows; the batch's own parent check would ask the same a moment later,
  // and finds the answer cached): an update of an existing row does not hold the batch back.
  unknown_.clear();
  for (const Lane* lane : queue_) lane->keys.unknownUpserts(keys_, known, unknown_);
  if (!unknown_.empty()) {
    std::unordered_map<int, std::vector<Uuid>> byTable;
    for (const auto& [id, plan] : unknown_)
      if (int t = checker.table(plan->targetName()); t >= 0) byTable[t].push_back(id);
    std::vector<char> present;
    for (auto& [table, ids] : byTable)
      checker.lookup(fill_->writer->connection(), table, ids, present);
  }
  // The last lane this batch depends on is finished, and with it every lane sent before it.
  const Lane* last = nullptr;
  for (const Lane* lane : queue_)
    if (lane->keys.conflicts(keys_, known)) last = lane;
  if (last) {
    committed |= finishThrough(last);
    ++stats_.batchesWaited;
  }
  ++stats_.batchesStarted;
  if (!queue_.empty()) ++stats_.batchesBeside;
  std::swap(fill_->keys, keys_);
  return committed;
}

bool TransactionApplier::sendBuffered() {
  if (batch_.empty()) return finishInFlight();
  bool committed = false;
  if (!fill_) {
    committed = chooseLane();
  } else {
    // Another chunk of the open target transaction: its lane's previous chunk (and every lane
    // sent before it) is read first; its parking decides this one's (staged meanwhile where
    // it cannot: ParkingApplier, "Staging").
    fill_->parking->prestage(batch_.writes());
    committed = finishThrough(fill_);
    if (lanes_.size() > 1) fill_->keys.add(batch_.writes());
  }
  beginTargetIfNeeded();
  markPendingOpen();
  // Steps 1-2 now (round trips), the writes sent without waiting for their results.
  try {
    const std::uint64_t staged = fill_->parking->stagedBatches();
    fill_->parking->start(batch_.writes());
    stats_.batchesStaged += fill_->parking->stagedBatches() - staged;
    ++stats_.batchesSent;
  } catch (const PgError& e) {
    noteSessionsWait(e);
    throw;
  }
  stats_.writes += batch_.size();
  // The writes the target is running stay alive in the lane's inflight (a swap moves the
  // buffers, not the TargetWrites the sent batch points at); the next batch is transformed into
  // batch_.
  std::swap(batch_, fill_->inflight);
  batch_.clear();
  return committed;
}

bool TransactionApplier::finishThrough(const Lane* last) {
  bool committed = false;
  while (!queue_.empty()) {
    Lane& lane = *queue_.front();
    try {
      if (lane.parking->inFlight()) lane.parking->finish();
    } catch (const PgError& e) {
      noteSessionsWait(e);
      throw;
    }
    lane.inflight.clear();
    if (!lane.commit) break;  // the open transaction of the pending bookkeeping: the newest
    Carried carried = std::move(*lane.commit);
    lane.commit.reset();
    commitCarried(lane, carried);  // pops it from queue_
    committed = true;
    if (&lane == last) break;
  }
  return committed;
}

void TransactionApplier::noteSessionsWait(const PgError& e) {
  if (lanes_.size() < 2) return;
  if (e.sqlstate() != sqlstate::kLockNotAvailable && e.sqlstate() != sqlstate::kDeadlockDetected)
    return;
  Lsn until = std::max(lastEnd_, pendingEnd_);
  if (until > stats_.serialUntil) stats_.serialUntil = until;
  spdlog::warn(
      "apply sessions waited for each other's locks ({}): rolling back and applying one "
      "session at a time up to source LSN {}",
      e.what(), stats_.serialUntil.str());
}

void TransactionApplier::applyBuffered() {
  sendBuffered();
  finishInFlight();
}

TransactionApplier::Carried TransactionApplier::takePending() {
  Carried c;
  c.commits = pendingCommits_;
  c.end = pendingEnd_;
  c.commitTime = pendingCommitTime_;
  c.changes = changesInTarget_;
  c.ops.swap(pendingOps_);
  c.unmapped.swap(pendingUnmapped_);
  pendingCommits_ = 0;
  changesInTarget_ = 0;
  pendingOpen_ = false;
  return c;
}

void TransactionApplier::onChange(const Change& change) {
  switch (change.kind) {
    case ChangeKind::Begin: {
      inSource_ = true;
      current_ = TransactionInfo{change.xid, change.lsn, change.nextLsn, change.commitTimeMicros};
      // Why both forms: the commit's end LSN is the checkpoint unit; when a server does not
      // send it on B, the commit record's own LSN is below the end of that same record, so
      // "commit lsn < checkpoint" says the same thing.
      skipping_ =
          !change.nextLsn.isZero() ? change.nextLsn <= checkpoint_ : change.lsn < checkpoint_;
      return;
    }
    case ChangeKind::Commit: {
      inSource_ = false;
      if (skipping_) {
        ++stats_.transactionsSkipped;
        skipping_ = false;
        return;
      }
      Lsn end = !change.nextLsn.isZero() ? change.nextLsn : current_.endLsn;
      // The checkpoint is always a commit's end LSN: the skip rule above compares end LSNs
      // (or a commit's own LSN, which lies below its end). A commit's own LSN stored as the
      // checkpoint would not be skipped on restart — applied twice. pgmorph asks wal2json for
      // include-lsn, so this only happens with a plugin that ignores it: stop, do not guess.
      if (end.isZero())
        throw PgmorphError(ErrorClass::Operator,
                           fmt::format("the commit of xid {} at source LSN {} came without its end "
                                       "LSN (wal2json's nextlsn, asked for with include-lsn); "
                                       "nothing of it was applied",
                                       current_.xid, change.lsn.str()));
      // Its writes stay buffered with those of the next transactions: applied together (one
      // ordered batch, few statements) when the buffer is full or the target transaction
      // commits. A transaction whose changes were all filtered still moves the checkpoint: it
      // joins the next target commit (which may carry only the checkpoint).
      markPendingOpen();
      ++pendingCommits_;
      pendingEnd_ = end;
      lastEnd_ = end;
      pendingCommitTime_ =
          change.commitTimeMicros != 0 ? change.commitTimeMicros : current_.commitTimeMicros;
      return;
    }
    case ChangeKind::Message:
      return;  // logical messages carry nothing to apply
    default:
      break;
  }
  if (skipping_) return;
  TransformOutcome outcome = transform(change);
  switch (outcome.status) {
    case TransformOutcome::Status::Unmapped:
      return;  // counted by countUnmapped
    case TransformOutcome::Status::Filtered:
      return;  // counted per table
    case TransformOutcome::Status::Failed:
      if (outcome.policy != RowPolicy::Park) failTransform(change, outcome);
      return;  // parked, with its reason
    case TransformOutcome::Status::Written:
      break;
  }
  ++stats_.changesApplied;
  changesInTarget_ += 1;
  if (lastTable_ && lastTable_->sourceTable == change.table() &&
      lastTable_->sourceSchema == change.schema()) {
    // Written implies mapped: mappingOf() has just answered with this change's table.
    std::size_t op = change.kind == ChangeKind::Insert   ? OpInsert
                     : change.kind == ChangeKind::Update ? OpUpdate
                     : change.kind == ChangeKind::Delete ? OpDelete
                                                         : OpTruncate;
    ++pendingOps_[lastTable_][op];
  }
  // Bounded memory: a long source transaction is written in chunks into the open target
  // transaction (the target runs one while the next is transformed: two batches at most);
  // only its commit decides whether the target transaction may commit.
  if (batch_.size() >= config_.apply.batchChanges) sendBuffered();
}

TransformOutcome TransactionApplier::transform(const Change& change) {
  const bool row = change.kind == ChangeKind::Insert || change.kind == ChangeKind::Update ||
                   change.kind == ChangeKind::Delete || change.kind == ChangeKind::Truncate;
  const TableMapping* table = row ? mappingOf(change) : nullptr;
  if (!table) {
    // Not in the mapping: counted, so that nothing disappears silently.
    if (row) countUnmapped(change);
    return transformer_.transform(change, batch_);
  }
  // Schema drift stops here, before anything of the change is buffered or written.
  if (change.kind != ChangeKind::Truncate) drift_.check(*table, change, current_.xid, checkpoint_);
  // Parked state changes in source order: before a change touches it, what is buffered is
  // applied first (rare: only for a change that fails or whose row has a parked change).
  auto prepare = [this] {
    // Alone: the batch in flight first (its parking is known before this one's), and with
    // sessions every lane committed but the one this transaction is open on.
    serialOnly_ = true;
    applyBuffered();
    serialOnly_ = false;
    beginTargetIfNeeded();
    markPendingOpen();
    changes_.useSession(fill_->writer->connection());
  };
  const Change* merged = changes_.takeParked(*table, change, prepare);
  const Change& input = merged ? *merged : change;
  TransformOutcome outcome = transformer_.transformWithPolicy(input, batch_);
  changes_.settle(*table, input, outcome, prepare);
  return outcome;
}

void TransactionApplier::countUnmapped(const Change& change) {
  std::string name = fmt::format("{}.{}", change.schema(), change.table());
  ++stats_.tables[name].filtered;
  if (config_.ignores(change.schema(), change.table())) {
    ++stats_.changesIgnored;
    return;
  }
  ++stats_.changesUnmapped;
  ++pendingUnmapped_[name];
  // A misspelled or forgotten mapping loses these changes for good once the checkpoint passes
  // them: say so the first time, loudly; the progress line, status and /metrics keep the count.
  if (!warnedUnmapped_.insert(name).second) return;
  auto committed = stats_.unmapped.find(name);
  std::uint64_t soFar =
      pendingUnmapped_[name] + (committed == stats_.unmapped.end() ? 0 : committed->second);
  spdlog::warn(
      "source table {} has changes but is neither mapped nor in ignore: ({}) — {} change{} so "
      "far; they are skipped: map it, or add it to ignore: if it is meant to be left out (the "
      "count: progress lines, `pgmorph status`, /metrics)",
      name, config_.file, soFar, soFar == 1 ? "" : "s");
}

const TableMapping* TransactionApplier::mappingOf(const Change& change) {
  // Changes come in runs of one table: the last one's mapping first.
  if (lastTable_ && lastTable_->sourceTable == change.table() &&
      lastTable_->sourceSchema == change.schema())
    return lastTable_;
  const TableMapping* table = config_.findTable(change.schema(), change.table());
  if (table) lastTable_ = table;
  return table;
}

bool TransactionApplier::commitOverlapped() {
  if (inSource_ || pendingCommits_ == 0) return false;
  if (batch_.empty()) {
    // A chunk of the last source transaction is in flight: the commit follows it.
    if (fill_ && fill_->parking->inFlight() && !fill_->commit) {
      fill_->commit = takePending();
      fill_ = nullptr;
      return false;
    }
    return commitIfPossible();  // nothing to overlap: the checkpoint alone
  }
  bool committed = sendBuffered();
  // Whole source transactions only: the batch ends at a source commit, and its target commit
  // carries exactly the commits buffered so far (the next batch starts a new bookkeeping).
  fill_->commit = takePending();
  fill_ = nullptr;
  return committed;
}

bool TransactionApplier::commitIfPossible() {
  // The batches in flight (with their commits, if they carry one) first: whatever comes next
  // waits for them anyway, and a caller that asks for a commit wants the checkpoint to move now.
  bool committed = finishInFlight();
  if (inSource_ || pendingCommits_ == 0) return committed;
  applyBuffered();
  beginTargetIfNeeded();
  Carried carried = takePending();
  commitCarried(*fill_, carried);
  fill_ = nullptr;
  return true;
}

void TransactionApplier::commitCarried(Lane& lane, Carried& c) {
  // Commits go in the order the lanes were sent (see "Sessions"): this lane is the oldest open.
  if (queue_.empty() || queue_.front() != &lane)
    throw std::logic_error("TransactionApplier: a lane committed out of order");
  // Skipped changes of tables neither mapped nor ignored: counted with the checkpoint that
  // moves past them, so that a replay after a crash does not count them twice.
  unmappedStore_.add(lane.writer->connection(), c.unmapped);
  // The last carried commit's source time goes with the checkpoint (`pgmorph status` reads it).
  lane.writer->commit(c.end, c.commits, c.commitTime);
  lane.open = false;
  lane.keys.clear();
  queue_.pop_front();
  checkpoint_ = c.end;
  stats_.checkpoint = checkpoint_;
  stats_.transactionsApplied += static_cast<std::uint64_t>(c.commits);
  ++stats_.targetCommits;
  std::optional<double> delay;
  if (c.commitTime != 0) {
    delay = static_cast<double>(nowMicros() - c.commitTime) / 1e6;
    stats_.lastApplyDelaySeconds = *delay;
  }
  for (const auto& [table, counts] : c.ops) {
    auto& total = stats_.ops[table->idName];
    for (std::size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
  }
  for (const auto& [table, n] : c.unmapped) stats_.unmapped[table] += n;
  if (metrics_) metrics_->onTargetCommit(stats_, c.changes, delay);
}

void TransactionApplier::advanceIdle(Lsn lsn, std::int64_t sourceMicros) {
  if (inSource_ || !queue_.empty() || fill_ || pendingCommits_ > 0 || lsn <= checkpoint_) return;
  writer_.begin();
  writer_.commit(lsn, 0, sourceMicros);
  checkpoint_ = lsn;
  stats_.checkpoint = lsn;
  stats_.lastApplyDelaySeconds = 0;
}

void TransactionApplier::abort() {
  for (auto& lane : lanes_) {
    lane->writer->rollback();
    lane->parking->forget();
    lane->inflight.clear();
    lane->commit.reset();
    lane->open = false;
    lane->keys.clear();
  }
  queue_.clear();
  fill_ = nullptr;
  serialOnly_ = false;
  inSource_ = false;
  skipping_ = false;
  pendingCommits_ = 0;
  changesInTarget_ = 0;
  pendingOpen_ = false;
  pendingOps_.clear();
  pendingUnmapped_.clear();
  batch_.clear();
}

void TransactionApplier::failTransform(const Change& change,
                                       const TransformOutcome& outcome) const {
  throw PgmorphError(
      ErrorClass::Operator,
      fmt::format("cannot transform {} of {}.{} at source LSN {} (xid {}): {}. Fix the source row "
                  "or the mapping; nothing after the checkpoint {} was applied.",
                  toString(change.kind), change.schema(), change.table(), change.lsn.str(),
                  current_.xid, outcome.problem, checkpoint_.str()));
}

}  // namespace pgmorph
