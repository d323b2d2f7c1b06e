#include "app/follow/TransactionApplier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/time.h>

#include <algorithm>

#include "cdc/model/Errors.h"

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
      parking_(writer.connection(), transformer.plans(), writer, catalog_, orderer_, parked_,
               stats.tables),
      changes_(writer.connection(), transformer.config(), parked_, stats.tables),
      drift_(config, writer.connection()),
      checkpoint_(checkpoint),
      unmappedStore_(config.target.stateSchema, config.pipeline) {
  changes_.load();
  stats_.checkpoint = checkpoint;
}

bool TransactionApplier::batchFull() const {
  if (!pendingOpen_) return false;
  if (changesInTarget_ >= config_.apply.batchChanges) return true;
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
  if (targetOpen_) return;
  writer_.begin();
  targetOpen_ = true;
}

bool TransactionApplier::sendBuffered() {
  // One batch in flight at a time, and everything after it is decided on what it did: the
  // previous batch is read (and committed, if a commit follows it) before this one's parked
  // entries and parents are looked up.
  bool committed = finishInFlight();
  if (batch_.empty()) return committed;
  beginTargetIfNeeded();
  markPendingOpen();
  // Steps 1-2 now (round trips), the writes sent without waiting for their results.
  parking_.start(batch_.writes());
  stats_.writes += batch_.size();
  // The writes the target is running stay alive in inflight_ (a swap moves the buffers, not
  // the TargetWrites the sent batch points at); the next batch is transformed into batch_.
  std::swap(batch_, inflight_);
  batch_.clear();
  return committed;
}

bool TransactionApplier::finishInFlight() {
  if (!parking_.inFlight()) return false;
  parking_.finish();
  inflight_.clear();
  if (!inflightCommit_) return false;
  Carried carried = std::move(*inflightCommit_);
  inflightCommit_.reset();
  commitCarried(carried);
  return true;
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
    applyBuffered();  // the batch in flight first: its parking is known before this one's
    beginTargetIfNeeded();
    markPendingOpen();
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
    if (parking_.inFlight() && !inflightCommit_) {
      inflightCommit_ = takePending();
      return false;
    }
    return commitIfPossible();  // nothing to overlap: the checkpoint alone
  }
  bool committed = sendBuffered();
  // Whole source transactions only: the batch ends at a source commit, and its target commit
  // carries exactly the commits buffered so far (the next batch starts a new bookkeeping).
  inflightCommit_ = takePending();
  return committed;
}

bool TransactionApplier::commitIfPossible() {
  // A batch in flight (with its commit, if it carries one) first: whatever comes next waits
  // for it anyway, and a caller that asks for a commit wants the checkpoint to move now.
  bool committed = finishInFlight();
  if (inSource_ || pendingCommits_ == 0) return committed;
  applyBuffered();
  beginTargetIfNeeded();
  Carried carried = takePending();
  commitCarried(carried);
  return true;
}

void TransactionApplier::commitCarried(Carried& c) {
  // Skipped changes of tables neither mapped nor ignored: counted with the checkpoint that
  // moves past them, so that a replay after a crash does not count them twice.
  unmappedStore_.add(writer_.connection(), c.unmapped);
  // The last carried commit's source time goes with the checkpoint (`pgmorph status` reads it).
  writer_.commit(c.end, c.commits, c.commitTime);
  targetOpen_ = false;
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
  if (inSource_ || targetOpen_ || pendingCommits_ > 0 || parking_.inFlight() || lsn <= checkpoint_)
    return;
  writer_.begin();
  writer_.commit(lsn, 0, sourceMicros);
  checkpoint_ = lsn;
  stats_.checkpoint = lsn;
  stats_.lastApplyDelaySeconds = 0;
}

void TransactionApplier::abort() {
  writer_.rollback();
  parking_.forget();
  targetOpen_ = false;
  inSource_ = false;
  skipping_ = false;
  inflight_.clear();
  inflightCommit_.reset();
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
