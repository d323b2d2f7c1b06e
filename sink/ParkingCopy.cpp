#include "sink/ParkingCopy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

#include "cdc/pg/PgError.h"
#include "sink/CopyWriter.h"
#include "sink/ParkedWriteCodec.h"

namespace pgmorph {

namespace {
constexpr const char* kSavepoint = "pgmorph_chunk";
}

ParkingCopy::ParkingCopy(PgConnection& target, const WritePlan& plan, const TargetTable& table,
                         ParentChecker& checker, const ParkedStore& store, std::size_t chunkRows)
    : conn_(target),
      plan_(plan),
      table_(table),
      checker_(checker),
      store_(store),
      chunkRows_(chunkRows == 0 ? 1 : chunkRows),
      ownTable_(checker.table(ParkedWriteCodec::targetName(plan))) {}

void ParkingCopy::begin() {
  if (open_) throw std::logic_error("ParkingCopy::begin while a copy is open");
  open_ = true;
  rows_ = 0;
  chunk_.clear();
  pending_.clear();
}

void ParkingCopy::write(const TargetWrite& w) {
  if (!open_) throw std::logic_error("ParkingCopy::write without begin()");
  if (w.plan != &plan_ || w.op != WriteOp::Upsert)
    throw std::invalid_argument(fmt::format("ParkingCopy for {} was given a {} of another plan",
                                            ParkedWriteCodec::targetName(plan_), toString(w.op)));
  chunk_.next() = w;
  if (chunk_.size() >= chunkRows_) sendChunk();
}

void ParkingCopy::park(ParkedRow row) {
  pending_.push_back(std::move(row));
}

std::uint64_t ParkingCopy::finish() {
  if (!open_) throw std::logic_error("ParkingCopy::finish without begin()");
  sendChunk();
  parkPending();
  open_ = false;
  return rows_;
}

void ParkingCopy::abort() noexcept {
  open_ = false;
  chunk_.clear();
  pending_.clear();
}

void ParkingCopy::sendChunk() {
  const std::size_t n = chunk_.size();
  if (n == 0) {
    parkPending();
    return;
  }
  originals_.assign(n, TargetWrite());
  skip_.assign(n, 0);
  stored_.assign(n, 0);
  fills_.clear();
  checkParents();
  std::vector<std::size_t> rows;
  rows.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    if (!skip_[i]) rows.push_back(i);
  if (!rows.empty()) copyRows(rows);
  for (std::size_t i = 0; i < n; ++i)
    if (stored_[i] && ownTable_ >= 0) checker_.notePresent(ownTable_, chunk_.writes()[i].row);
  // References to fill in, for the rows that landed with NULL.
  for (const Fill& f : fills_) {
    if (!stored_[f.row]) continue;
    const TargetWrite& w = chunk_.writes()[f.row];
    TargetWrite fill;
    WriteEdits::fillReference(plan_, w.row, w.legacyKey(), f.ref->column, f.text, w.lsn, fill);
    ParkedRow r = ParkedWriteCodec::encode(fill);
    r.kind = ParkKind::NullReference;
    r.missingTable = checker_.tableName(f.ref->parent);
    r.missingId = f.id.str();
    r.missingColumn = f.ref->columnName;
    r.reason = describe(w, *f.ref, f.id, RowPolicy::Null);
    pending_.push_back(std::move(r));
    ++nulled_;
  }
  parkPending();
  chunk_.clear();
}

void ParkingCopy::checkParents() {
  auto refs = checker_.refs(plan_);
  if (refs.empty()) return;
  auto writes = chunk_.writes();
  // Which parents to ask about: those not known present.
  std::unordered_map<int, std::vector<Uuid>> need;
  std::unordered_map<int, std::unordered_set<Uuid, UuidHash>> asked;
  auto refId = [&](const TargetWrite& w, const ParentRef& ref, Uuid& id) {
    const WriteValue& v = w.values()[ref.column];
    if (v.state != ValueState::Present) return false;
    try {
      id = Uuid::parse(w.text(v));
    } catch (const std::invalid_argument&) {
      return false;  // not a UUID: the target decides
    }
    return true;
  };
  for (const TargetWrite& w : writes)
    for (const ParentRef& ref : refs) {
      Uuid id;
      if (!refId(w, ref, id) || checker_.knownPresent(ref.parent, id)) continue;
      if (asked[ref.parent].insert(id).second) need[ref.parent].push_back(id);
    }
  std::unordered_map<int, std::unordered_set<Uuid, UuidHash>> missing;
  std::vector<char> present;
  for (auto& [table, ids] : need) {
    checker_.lookup(conn_, table, ids, present);
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (!present[i]) missing[table].insert(ids[i]);
  }
  if (missing.empty()) return;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    TargetWrite& w = writes[i];
    for (const ParentRef& ref : refs) {
      Uuid id;
      if (!refId(w, ref, id)) continue;
      auto m = missing.find(ref.parent);
      if (m == missing.end() || !m->second.count(id)) continue;
      if (ref.onMissing == RowPolicy::Fail)
        throw PgmorphError(ErrorClass::Operator, describe(w, ref, id, RowPolicy::Fail));
      if (ref.onMissing == RowPolicy::Null) {
        if (originals_[i].plan == nullptr) originals_[i] = w;
        fills_.push_back(Fill{i, &ref, id, std::string(w.text(w.values()[ref.column]))});
        TargetWrite nulled;
        WriteEdits::withNull(w, ref.column, nulled);
        w = std::move(nulled);
        continue;
      }
      const TargetWrite& original = originals_[i].plan ? originals_[i] : w;
      ParkedRow r = ParkedWriteCodec::encode(original);
      r.kind = ParkKind::MissingParent;
      r.missingTable = checker_.tableName(ref.parent);
      r.missingId = id.str();
      r.missingColumn = ref.columnName;
      r.reason = describe(w, ref, id, RowPolicy::Park);
      pending_.push_back(std::move(r));
      skip_[i] = 1;
      break;
    }
  }
  // A row parked after one of its references was NULLed keeps no reference to fill in.
  std::erase_if(fills_, [&](const Fill& f) { return skip_[f.row] != 0; });
}

void ParkingCopy::copyRows(const std::vector<std::size_t>& rows) {
  conn_.exec(fmt::format("SAVEPOINT {}", kSavepoint));
  CopyWriter writer(conn_, plan_, table_);
  std::uint64_t stored = 0;
  try {
    writer.begin();
    for (std::size_t i : rows) writer.write(chunk_.writes()[i]);
    stored = writer.finish();
  } catch (const PgError&) {
    writer.abort();
    throw;  // not a row's fault: the caller's transaction ends
  } catch (const PgmorphError& e) {
    // A refused row: only the chunk is lost, the transaction goes on from the savepoint.
    writer.abort();
    conn_.exec(fmt::format("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}", kSavepoint));
    if (rows.size() == 1) {
      std::size_t i = rows[0];
      const TargetWrite& w = originals_[i].plan ? originals_[i] : chunk_.writes()[i];
      ParkedRow r = ParkedWriteCodec::encode(w);
      r.kind = ParkKind::Refused;
      r.reason = fmt::format("{} {} (snapshot): {}", ParkedWriteCodec::sourceName(plan_),
                             w.legacyKey(), e.what());
      pending_.push_back(std::move(r));
      return;
    }
    // Bisection: each half is tried alone, the good rows of a refused chunk still land.
    std::size_t half = rows.size() / 2;
    copyRows(std::vector<std::size_t>(rows.begin(), rows.begin() + static_cast<long>(half)));
    copyRows(std::vector<std::size_t>(rows.begin() + static_cast<long>(half), rows.end()));
    return;
  }
  conn_.exec(fmt::format("RELEASE SAVEPOINT {}", kSavepoint));
  rows_ += stored;
  for (std::size_t i : rows) stored_[i] = 1;
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
  std::string missing =
      fmt::format("{}.{} names {} {}{}, which is not on the target", plan_.targetTable,
                  ref.columnName, checker_.tableName(ref.parent), id.str(),
                  ref.sourceParent.empty() ? "" : fmt::format(" (a {} row)", ref.sourceParent));
  std::string what =
      fmt::format("upsert of {} {} into {} (snapshot)", ParkedWriteCodec::sourceName(plan_),
                  w.legacyKey(), ParkedWriteCodec::targetName(plan_));
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
      "{}: {}, and the mapping says on_missing: fail for {}. Load the missing row into the target "
      "(or set on_missing to park or null for that column) and run the snapshot again.",
      what, missing, ref.columnName);
}

}  // namespace pgmorph
