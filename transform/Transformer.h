// Transformer: one source Change -> the TargetWrites it means, by the mapping. Pure (no I/O),
// on the hot path, one per thread (it keeps per-table caches).
//
// It owns a copy of the PipelineConfig and one WritePlan per TargetMapping (plans(), in file
// order: table by table, target by target). Every TargetWrite it appends points at one of
// these plans, so the Transformer must outlive the batches it fills; it is neither copyable
// nor movable for that reason.
//
// What each change becomes (WritePlan.h says what each op means in SQL):
// - Insert: Upsert into every upsert target whose `where` matches the row. For every partial
//   (mode: update) target whose key column names a row: Release(owner values of this row,
//   keep that row) then SetColumns on that row.
// - Update: as Insert for the new tuple, plus
//   * key changed (identity's key != new key): Delete of the old row from every upsert
//     target and Release(old owner values) of every partial target, first;
//   * fan-out: Delete from every upsert target whose `where` no longer matches, so a row
//     that moves between targets leaves the first and lands in the second;
//   * a partial target whose key column became NULL (or whose `where` stopped matching):
//     Release(owner values, no row kept);
//   * columns absent from the new tuple (unchanged TOAST) are Absent values (not written).
// - Delete: Delete from every upsert target and Release(no row kept) of every partial
//   target, keyed by the identity (the where column may not be in it; deleting is
//   idempotent).
// - Truncate: one Truncate per target, partial targets first, then upsert targets, each
//   group in file order.
// Within one change all Releases of partial targets come before all SetColumns, so a swap
// of two partial keys (an order swapping its upper and lower jaw) ends with each target row
// holding the right values whatever order the two targets are listed in.
//
// Failures (Status::Failed, nothing appended for the change): a value that cannot be
// converted (policy = the column's on_error); and, with policy Park: a NULL or missing key,
// a mapped column missing from an insert (the mapping names a column the table lacks), a
// where column (or partial key column) that an update omits without the identity carrying
// it, and a key-changing update that omits an unchanged TOASTed column (the row cannot be
// re-created under its new key without it). `ref` values are not checked here: whether the
// parent exists (on_missing) is the sink's business.
//
// Known limit: an update that moves a row into another fan-out target (its `where` now
// matches) while omitting unchanged TOASTed columns upserts the new target's row without
// them; wal2json does not say that the row moved, so this cannot be told from an update in
// place.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "cdc/model/Change.h"
#include "transform/Config.h"
#include "transform/IdMapper.h"
#include "transform/TablePlan.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

struct TransformOutcome {
  enum class Status {
    Written,   // the change's writes were appended
    Unmapped,  // table not in the mapping, or not a row change (B/C/M): nothing appended
    Failed,    // see problem; nothing appended
    Filtered,  // mapped table, but no target's `where` takes the row: nothing appended (count it)
  } status = Status::Written;
  // Failed: a sentence naming source table, legacy key, column, the value (truncated) and
  // why, and the policy (RowPolicy) of the failing column so a later stage can park or null.
  std::string problem;
  RowPolicy policy = RowPolicy::Fail;
  std::string column;  // Failed: the source column at fault ("" when not one column's)
  // transformWithPolicy(): the problem of a value written as NULL (on_error: null), "" when
  // none was. The value is lost on the target: the caller says so.
  std::string nulled;
};

class Transformer {
 public:
  explicit Transformer(const PipelineConfig& config);  // builds one WritePlan per TargetMapping
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  // Appends the writes for one Insert/Update/Delete/Truncate change to `out`. On Failed
  // nothing is appended for that change. Unmapped tables -> Status::Unmapped, nothing appended.
  TransformOutcome transform(const Change& change, WriteBatch& out);
  // Like transform(), but a value that cannot be converted in a column whose on_error is
  // `null` is written as NULL instead of failing the change. For the stage that got Failed
  // with policy Null from transform(): it logs that problem and calls this.
  TransformOutcome transformNullingErrors(const Change& change, WriteBatch& out);
  // The mapping's on_error at the level of one change: transform(), and when that failed in a
  // column whose on_error is `null`, transformNullingErrors() with the first problem kept in
  // `nulled`. A Failed outcome that comes back has policy park or fail: the caller parks the
  // change or stops.
  TransformOutcome transformWithPolicy(const Change& change, WriteBatch& out);

  const std::vector<WritePlan>& plans() const { return plans_; }
  // "schema.table" of every table the plans write, each once, in plan order.
  std::vector<std::string> targetTables() const;
  const PipelineConfig& config() const { return config_; }
  const IdMapper& ids() const { return ids_; }

 private:
  // One tuple of a change (new columns or identity) seen through a table's slots.
  struct Tuple {
    const Change* change = nullptr;
    const int* positions = nullptr;
    bool identity = false;
    bool complete = false;  // an insert: every column is there, so a missing one is an error
    bool has(int slot) const { return positions[slot] >= 0; }
    ColumnView get(int slot) const {
      return identity ? change->identity(positions[slot]) : change->column(positions[slot]);
    }
  };
  enum class KeyState { Present, Absent, Null };
  enum class Match { Yes, No, Unknown };
  struct Failure {
    std::string column;
    std::string detail;
    RowPolicy policy = RowPolicy::Park;
  };

  KeyState key(const Tuple& tuple, const std::vector<int>& slots, std::string& scratch,
               std::string_view& out, int& missingSlot) const;
  Match where(const TablePlan::Target& t, const Tuple& now, const Tuple* old) const;
  bool fail(std::string column, std::string detail, RowPolicy policy = RowPolicy::Park);

  TransformOutcome run(const Change& change, WriteBatch& out);
  TablePlan* find(const Change& change);
  bool insert(const Change& change, TablePlan& table, WriteBatch& out);
  bool update(const Change& change, TablePlan& table, WriteBatch& out);
  bool remove(const Change& change, TablePlan& table, WriteBatch& out);
  void truncate(const Change& change, TablePlan& table, WriteBatch& out);

  // Partial targets of one change: Releases first, then SetColumns (see above).
  bool partialsForNewTuple(const Change& change, TablePlan& table, const Tuple& now,
                           const Tuple* old, std::string_view legacy, WriteBatch& out);
  bool upsert(const Change& change, const TablePlan::Target& t, const Tuple& now,
              std::string_view legacy, bool keyChanged, WriteBatch& out);
  bool release(const Change& change, const TablePlan::Target& t, const Tuple& owner,
               std::string_view legacy, const Uuid* keep, WriteBatch& out);
  bool values(const TablePlan::Target& t, const Tuple& tuple, TargetWrite& w);
  TargetWrite& begin(WriteBatch& out, WriteOp op, const TablePlan::Target& t, const Change& change,
                     std::string_view legacy);

  PipelineConfig config_;
  IdMapper ids_;
  std::vector<WritePlan> plans_;
  std::vector<TablePlan> tables_;
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Source table name -> indices into tables_ (several when schemas differ).
  std::unordered_map<std::string, std::vector<std::size_t>, NameHash, std::equal_to<>> byName_;

  TablePlan* last_ = nullptr;  // the table of the previous change

  // Per-change scratch, kept to reuse its capacity.
  std::vector<int> newPositions_, oldPositions_;
  std::string newKey_, oldKey_, rowKey_, targetKey_, targetOldKey_;
  std::vector<std::pair<const TablePlan::Target*, Uuid>> pendingSets_;
  bool nullOnError_ = false;
  Failure failure_;
  std::string_view failureKey_;  // legacy key of the failing change, when known
};

}  // namespace pgmorph
