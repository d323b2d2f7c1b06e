// TargetWrite: one write on the target, produced by Transformer from one source Change;
// the contract between transform and sink. Like Change, it owns its text in one arena
// and refers to it by slices, so WriteBatch can recycle writes without heap churn.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Change.h"
#include "cdc/model/Lsn.h"
#include "cdc/model/Uuid.h"
#include "transform/Config.h"
#include "transform/WritePlan.h"

namespace pgmorph {

enum class WriteOp : std::uint8_t {
  // Insert or update by id: INSERT ... ON CONFLICT (id) DO UPDATE. Values align with
  // TargetMapping's write columns (see WritePlan); Absent values are not written.
  Upsert,
  // DELETE WHERE id = row.
  Delete,
  // Partial (mode: update) target: UPDATE SET <present values> WHERE id = row.
  SetColumns,
  // Partial target: a source row stops naming a target row. Sets the listed columns back
  // to NULL on every row whose owner columns still hold this source row's values
  // (`ownerValues`), except `row` when `hasRow` (the row it names now). Keyed by owner
  // values because a DELETE or UPDATE's old tuple does not carry the old key column.
  Release,
  // TRUNCATE of the source table: delete every row this target got from it
  // (Upsert targets) or release every row it filled (Update targets).
  Truncate,
};

std::string_view toString(WriteOp op);

enum class ValueState : std::uint8_t { Absent, Null, Present };

struct WriteValue {
  Slice text;
  ValueState state = ValueState::Absent;
};

class TargetWrite {
 public:
  WriteOp op = WriteOp::Upsert;
  const WritePlan* plan = nullptr;  // target table, columns, source table (owned by Transformer)
  Uuid row;                         // target row id (Upsert, Delete, SetColumns, Release)
  bool hasRow = true;               // Release: false when there is no row to keep
  // SetColumns only: touching no row is not an error. Set on the unlinks BatchOrderer writes
  // before deleting rows that reference each other (the row may not be on the target: then
  // there is nothing to unlink, and its delete deletes nothing).
  bool rowOptional = false;
  // Upsert only: the source inserted this row (it did not exist there a moment before), so
  // the target should not have it either and a plain INSERT can write it, which costs the
  // target less than INSERT ... ON CONFLICT (no speculative insertion). Should the row be there
  // after all, the INSERT fails with a unique violation and the run is written again row by
  // row as upserts (TargetWriter's isolation pass): the flag is a hint, never a promise.
  bool fresh = false;
  Lsn lsn;  // source change position (for messages)

  void clear();
  // Values in plan->columns order (Upsert/SetColumns) or plan->ownerColumns order (Release).
  std::span<const WriteValue> values() const { return values_; }
  std::string_view text(Slice s) const {
    return std::string_view(arena_).substr(s.offset, s.length);
  }
  std::string_view text(const WriteValue& v) const { return text(v.text); }
  // The legacy key of the source row, for messages ("dispatch_user 42").
  std::string_view legacyKey() const { return text(legacyKey_); }

  void setLegacyKey(std::string_view key) { legacyKey_ = store(key); }
  void addValue(std::string_view text) { values_.push_back({store(text), ValueState::Present}); }
  void addNull() { values_.push_back({{}, ValueState::Null}); }
  void addAbsent() { values_.push_back({{}, ValueState::Absent}); }
  Slice store(std::string_view s);
  // Stores a followed by b as one slice (e.g. a timestamp and its zone) without a temporary.
  Slice store(std::string_view a, std::string_view b);
  // A present value whose text is already in this write's arena (from store()).
  void addStoredValue(Slice s) { values_.push_back({s, ValueState::Present}); }

 private:
  std::string arena_;
  Slice legacyKey_;
  std::vector<WriteValue> values_;
};

// Recycles TargetWrite objects between batches: next() reuses a cleared write when one is
// available, so the steady state allocates nothing.
class WriteBatch {
 public:
  TargetWrite& next();
  void popBack() { --size_; }  // undo the last next() (row filtered or failed)
  void clear() { size_ = 0; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const TargetWrite> writes() const { return {writes_.data(), size_}; }
  std::span<TargetWrite> writes() { return {writes_.data(), size_}; }

 private:
  std::vector<TargetWrite> writes_;
  std::size_t size_ = 0;
};

}  // namespace pgmorph
