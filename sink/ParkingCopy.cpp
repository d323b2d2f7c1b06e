#include "sink/ParkingCopy.h"

#include <fmt/format.h>

#include <spdlog/spdlog.h>
#include <algorithm>

#include "cdc/pg/PgError.h"
#include "sink/ParkedWriteCodec.h"

namespace pgmorph {

namespace {

constexpr const char* kSavepoint = "pgmorph_segment";

// The UUID a reference column holds, when it holds one.
bool refId(const TargetWrite& w, const ParentRef& ref, Uuid& id) {
  const WriteValue& v = w.values()[ref.column];
  if (v.state != ValueState::Present) return false;
  try {
    id = Uuid::parse(w.text(v));
  } catch (const std::invalid_argument&) {
    return false;  // not a UUID: the target decides
  }
  return true;
}

}  // namespace

ParkingCopy::ParkingCopy(PgConnection& target, const WritePlan& plan, const TargetTable& table,
                         ParentChecker& checker, const ParkedStore& store, std::size_t segmentRows,
                         std::size_t heldRows, CopyFormat format)
    : conn_(target),
      plan_(plan),
      table_(table),
      checker_(checker),
      store_(store),
      segmentRows_(segmentRows == 0 ? 1 : segmentRows),
      heldRows_(heldRows == 0 ? 1 : heldRows),
      format_(format),
      own_(checker.table(plan.targetName())) {}

void ParkingCopy::begin() {
  if (open_) throw std::logic_error("ParkingCopy::begin while a copy is open");
  open_ = true;
  rows_ = 0;
  sent_.clear();
  held_.clear();
  pending_.clear();
  fills_.clear();
  originals_.clear();
}

void ParkingCopy::write(const TargetWrite& w) {
  if (!open_) throw std::logic_error("ParkingCopy::write without begin()");
  if (w.plan != &plan_ || w.op != WriteOp::Upsert)
    throw std::invalid_argument(fmt::format("ParkingCopy for {} was given a {} of another plan",
                                            plan_.targetName(), toString(w.op)));
  admit(w);
  if (held_.size() >= heldRows_ || sent_.size() >= segmentRows_) boundary();
}

void ParkingCopy::park(ParkedRow row) {
  pending_.push_back(std::move(row));
}

std::uint64_t ParkingCopy::finish() {
  if (!open_) throw std::logic_error("ParkingCopy::finish without begin()");
  boundary();  // resolves what is held, which may send rows again
  endSegment();
  parkPending();
  open_ = false;
  return rows_;
}

void ParkingCopy::abort() noexcept {
  if (copy_) copy_->abort();
  copy_.reset();
  open_ = false;
  sent_.clear();
  held_.clear();
  pending_.clear();
}

bool ParkingCopy::checked(const ParentRef& ref) const {
  return std::find(unchecked_.begin(), unchecked_.end(), ref.column) == unchecked_.end();
}

ParkingCopy::Known ParkingCopy::known(int table, const Uuid& id) const {
  if (checker_.knownPresent(table, id)) return Known::Present;
  auto m = missing_.find(table);
  if (m != missing_.end() && m->second.count(id)) return Known::Missing;
  return Known::Unknown;
}

void ParkingCopy::admit(const TargetWrite& w) {
  auto refs = checker_.refs(plan_);
  const ParentRef* missing = nullptr;
  Uuid missingId;
  bool unknown = false;
  bool nulls = false;
  for (const ParentRef& ref : refs) {
    Uuid id;
    if (!checked(ref) || !refId(w, ref, id)) continue;
    Known k = known(ref.parent, id);
    if (k == Known::Unknown) {
      unknown = true;
    } else if (k == Known::Missing) {
      if (ref.onMissing == RowPolicy::Fail)
        throw PgmorphError(ErrorClass::Operator, describe(w, ref, id, RowPolicy::Fail));
      if (ref.onMissing == RowPolicy::Null) {
        nulls = true;
      } else if (!missing) {
        missing = &ref;
        missingId = id;
      }
    }
  }
  if (missing) {
    ParkedRow r = ParkedWriteCodec::encode(w);
    r.kind = ParkKind::MissingParent;
    r.missingTable = checker_.tableName(missing->parent);
    r.missingId = missingId;
    r.missingColumn = missing->columnName;
    r.reason = describe(w, *missing, missingId, RowPolicy::Park);
    pending_.push_back(std::move(r));
    return;
  }
  if (unknown) {
    held_.next() = w;
    return;
  }
  if (!nulls) {
    send(w, nullptr);
    return;
  }
  // References to parents known missing, on_missing: null: NULL now, filled in later.
  TargetWrite nulled = w;
  std::vector<Fill> fills;
  for (const ParentRef& ref : refs) {
    Uuid id;
    if (!checked(ref) || !refId(w, ref, id) || known(ref.parent, id) != Known::Missing) continue;
    fills.push_back(Fill{0, &ref, id, std::string(w.text(w.values()[ref.column]))});
    TargetWrite next;
    WriteEdits::withNull(nulled, ref.column, next);
    nulled = std::move(next);
  }
  send(nulled, &w);
  for (Fill& f : fills) {
    f.row = sent_.size() - 1;
    fills_.push_back(std::move(f));
  }
}

void ParkingCopy::send(const TargetWrite& w, const TargetWrite* original) {
  if (!copy_) {
    conn_.exec(fmt::format("SAVEPOINT {}", kSavepoint));
    copy_.emplace(conn_, plan_, table_, format_);
    copy_->begin();
  }
  try {
    copy_->write(w);
  } catch (const CopyRefusedError&) {
    if (!copy_->copying()) {
      copy_.reset();
      throw;
    }
    // The binary encoder could not convert a value and sent nothing of the row; the COPY goes
    // on. The row goes by text COPY at the segment's end: the server then takes or refuses its
    // text exactly as it does the stream's (the encoder is stricter than the types' input).
    textRows_.push_back(sent_.size());
  } catch (...) {
    copy_->abort();
    copy_.reset();
    throw;
  }
  sent_.next() = w;
  if (original) originals_.emplace(sent_.size() - 1, *original);
}

void ParkingCopy::boundary() {
  endSegment();
  parkPending();
  resolveHeld();
}

void ParkingCopy::endSegment() {
  if (!copy_) return;
  const std::size_t n = sent_.size();
  stored_.assign(n, 0);
  bool refused = false;
  std::vector<char> inCopy(n, 1);
  for (std::size_t i : textRows_) inCopy[i] = 0;
  try {
    rows_ += copy_->finish();
    conn_.exec(fmt::format("RELEASE SAVEPOINT {}", kSavepoint));
    stored_ = inCopy;
  } catch (const PgError&) {
    copy_.reset();
    throw;  // not a row's fault: the caller's transaction ends
  } catch (const CopyRefusedError&) {
    refused = true;
  }
  copy_.reset();
  if (refused) {
    // Only the segment is lost: back to its savepoint, then halves until the refused rows are
    // alone (the good rows of the segment still land).
    conn_.exec(fmt::format("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}", kSavepoint));
    std::vector<std::size_t> all;
    for (std::size_t i = 0; i < n; ++i)
      if (inCopy[i]) all.push_back(i);
    copyRows(all, format_);
  }
  copyRows(textRows_, CopyFormat{.binary = false});
  textRows_.clear();
  // The rows that landed are parents that other rows may name: the checker publishes them to
  // the other workers once this transaction commits.
  if (own_ >= 0)
    for (std::size_t i = 0; i < n; ++i)
      if (stored_[i]) checker_.noteLanded(own_, sent_.writes()[i].row);
  for (const Fill& f : fills_) {
    if (!stored_[f.row]) continue;
    const TargetWrite& w = sent_.writes()[f.row];
    TargetWrite fill;
    WriteEdits::fillReference(plan_, w.row, w.legacyKey(), f.ref->column, f.text, w.lsn, fill);
    ParkedRow r = ParkedWriteCodec::encode(fill);
    r.kind = ParkKind::NullReference;
    r.missingTable = checker_.tableName(f.ref->parent);
    r.missingId = f.id;
    r.missingColumn = f.ref->columnName;
    r.reason = describe(w, *f.ref, f.id, RowPolicy::Null);
    pending_.push_back(std::move(r));
    ++nulled_;
  }
  fills_.clear();
  originals_.clear();
  sent_.clear();
}

void ParkingCopy::copyRows(const std::vector<std::size_t>& rows, CopyFormat format) {
  if (rows.empty()) return;
  conn_.exec(fmt::format("SAVEPOINT {}", kSavepoint));
  CopyWriter writer(conn_, plan_, table_, format);
  std::uint64_t stored = 0;
  try {
    writer.begin();
    for (std::size_t i : rows) writer.write(sent_.writes()[i]);
    stored = writer.finish();
  } catch (const PgError&) {
    writer.abort();
    throw;
  } catch (const CopyRefusedError& e) {
    writer.abort();
    conn_.exec(fmt::format("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}", kSavepoint));
    if (rows.size() == 1) {
      std::size_t i = rows[0];
      auto original = originals_.find(i);
      const TargetWrite& w = original != originals_.end() ? original->second : sent_.writes()[i];
      ParkedRow r = ParkedWriteCodec::encode(w);
      r.kind = ParkKind::Refused;
      r.sqlstate = e.sqlstate();
      r.reason = fmt::format("{} {} (snapshot): {}", ParkedWriteCodec::sourceName(plan_),
                             w.legacyKey(), e.what());
      pending_.push_back(std::move(r));
      return;
    }
    std::size_t half = rows.size() / 2;
    copyRows(std::vector<std::size_t>(rows.begin(), rows.begin() + static_cast<long>(half)),
             format);
    copyRows(std::vector<std::size_t>(rows.begin() + static_cast<long>(half), rows.end()), format);
    return;
  }
  conn_.exec(fmt::format("RELEASE SAVEPOINT {}", kSavepoint));
  rows_ += stored;
  for (std::size_t i : rows) stored_[i] = 1;
}

void ParkingCopy::resolveHeld() {
  if (held_.empty()) return;
  // One statement per parent table for every parent the held rows name and nobody knows.
  std::unordered_map<int, std::vector<Uuid>> need;
  std::unordered_map<int, std::unordered_set<Uuid, UuidHash>> asked;
  for (const TargetWrite& w : held_.writes())
    for (const ParentRef& ref : checker_.refs(plan_)) {
      Uuid id;
      if (!checked(ref) || !refId(w, ref, id) || known(ref.parent, id) != Known::Unknown) continue;
      if (asked[ref.parent].insert(id).second) need[ref.parent].push_back(id);
    }
  std::vector<char> present;
  for (auto& [table, ids] : need) {
    checker_.lookup(conn_, table, ids, present);  // remembers the present ones
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (!present[i]) missing_[table].insert(ids[i]);
  }
  // Every parent is known now: admitting sends, parks or NULLs each row.
  WriteBatch held;
  std::swap(held, held_);
  for (const TargetWrite& w : held.writes()) admit(w);
}

void ParkingCopy::parkPending() {
  for (const ParkedRow& r : pending_) {
    store_.park(conn_, r);
    if (r.kind != ParkKind::NullReference) ++parked_;
    spdlog::debug("snapshot parked: {}", r.reason);
  }
  pending_.clear();
}

std::string ParkingCopy::describe(const TargetWrite& w, const ParentRef& ref, const Uuid& id,
                                  RowPolicy policy) const {
  std::string what =
      fmt::format("upsert of {} {} into {} (snapshot)", ParkedWriteCodec::sourceName(plan_),
                  w.legacyKey(), plan_.targetName());
  return describeMissingParent(what, checker_.describeAbsent(plan_, ref, id), policy,
                               ref.columnName, "run the snapshot again.");
}

}  // namespace pgmorph
