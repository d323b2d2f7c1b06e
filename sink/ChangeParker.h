// ChangeParker: the parked changes of the mapping's on_error: park — source changes the
// transformer could not convert (malformed JSON for `type: jsonb`, an unmapped code in `map`, a
// bad boolean...), kept as ParkedRows of kind Unconvertible holding the source change. The
// transform itself is the caller's (Transformer::transformWithPolicy, which also does
// on_error: null); this class only keeps, merges and removes what is parked, around it:
//
//   const Change* merged = parker.takeParked(table, change, prepare);
//   const Change& input = merged ? *merged : change;
//   TransformOutcome outcome = transformer.transformWithPolicy(input, batch);
//   parker.settle(table, input, outcome, prepare);
//
// A parked change is never left behind stale: the next change of the same source row (same
// table and legacy key) is merged into it — the new values win, the columns the new change
// leaves out (unchanged TOAST) come from the parked one — and the merged change is transformed
// instead. If that works the entry is removed; if not it is updated (attempts + 1). A DELETE
// removes the entry, a TRUNCATE every entry of its table.
//
// Owns the set of source rows with a parked change (loaded at start, kept up to date; a
// superset is harmless: a key found there is only a reason to look in the table), so that the
// common change costs one hash lookup at most. Everything it writes goes through the caller's
// open target transaction.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cdc/model/Change.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TableCounts.h"
#include "state/ParkedStore.h"
#include "transform/Config.h"
#include "transform/Transformer.h"

namespace pgmorph {

class ChangeParker {
 public:
  // `prepare`, given to the calls that may touch the parked table, is called before they do:
  // the caller applies the writes it buffered (parked state must change in source order) and
  // makes sure the target transaction is open.
  using Prepare = std::function<void()>;
  // How a parked change is transformed again (`pgmorph parked retry`): the caller's transform.
  using Transform = std::function<TransformOutcome(const Change&, WriteBatch&)>;

  ChangeParker(PgConnection& target, const PipelineConfig& config, const ParkedStore& store,
               TableCountsMap& counts);

  // Reads which source rows have a parked change (one statement).
  void load();
  // The session whose open transaction the next writes go through (apply.sessions > 1: the
  // caller's prepare() may open the target transaction on another session than the last one).
  void useSession(PgConnection& target) { target_ = &target; }

  // Before a row change or TRUNCATE of the mapped `table` is transformed. A TRUNCATE removes
  // every parked change of its table, a DELETE the one of its row (counted discarded); then
  // nullptr. Another change of a row with a parked change takes that entry and returns the
  // parked change merged with this one: transform that instead and give it to settle().
  // nullptr when nothing is parked for the row.
  const Change* takeParked(const TableMapping& table, const Change& change, const Prepare& prepare);
  // After the transform of `change` (the one given to takeParked(), or what it returned):
  // parks it when it failed with policy park (the entry taken is updated, attempts + 1), or
  // removes the entry taken when it worked (counted unparked). Counts per source table the
  // changes filtered, written with a NULL (on_error: null, with a warning) and parked.
  void settle(const TableMapping& table, const Change& change, const TransformOutcome& outcome,
              const Prepare& prepare);

  // Transforms a parked change again with `transform` (`pgmorph parked retry`): true when it
  // gave writes (the entry is then removed), false when it still fails (the entry is updated).
  bool retry(const ParkedRow& row, WriteBatch& out, const Transform& transform);

  // The entry that keeps a change the transformer could not convert (kind Unconvertible,
  // the change as JSON, the problem as reason). Used by the snapshot loader too.
  static ParkedRow unconvertibleRow(const TableMapping& table, const Change& change,
                                    const TransformOutcome& outcome);

  // The legacy key of a change's row: the old key (identity) of an update or delete when
  // `old`, else the new key. "" when a key column is missing or NULL.
  static std::string legacyKey(const TableMapping& table, const Change& change, bool old);

 private:
  void park(const TableMapping& table, const Change& change, const TransformOutcome& outcome,
            const ParkedRow* existing);
  TableCounts& countsOf(const TableMapping& table);  // cached for runs of one table
  // `parked` followed by `later`, as one change (see above).
  static void merge(const Change& parked, const Change& later, Change& out);

  PgConnection* target_;  // never null
  const PipelineConfig& config_;
  const ParkedStore& store_;
  TableCountsMap& counts_;
  // source table (idName) -> legacy keys with a parked change
  std::unordered_map<std::string, std::unordered_set<std::string>> parked_;
  std::optional<ParkedRow> taken_;  // takeParked() -> settle()
  Change parkedChange_, merged_;    // scratch
  const TableMapping* lastTable_ = nullptr;
  TableCounts* lastCounts_ = nullptr;
};

}  // namespace pgmorph
