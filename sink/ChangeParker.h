// ChangeParker: the on_error policies of the mapping, at the level of source changes. A change
// the transformer cannot convert (malformed JSON for `type: jsonb`, an unmapped code in `map`,
// a bad boolean...) is, per the failing column's on_error:
//   park (default) — kept as a ParkedRow of kind Unconvertible holding the source change;
//   null           — transformed again with NULL for that column (and a warning);
//   fail           — reported to the caller, which stops with the transformer's sentence.
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
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cdc/model/Change.h"
#include "cdc/pg/PgConnection.h"
#include "sink/TableCounts.h"
#include "state/ParkedStore.h"
#include "transform/Transformer.h"

namespace pgmorph {

class ChangeParker {
 public:
  ChangeParker(PgConnection& target, Transformer& transformer, const ParkedStore& store,
               TableCountsMap& counts);

  // Reads which source rows have a parked change (one statement).
  void load();

  // Transforms one change into `out` with the policies above. `prepare` is called before the
  // parked table is touched: the caller applies the writes it buffered (parked state must
  // change in source order) and makes sure the target transaction is open.
  // Returns the transformer's outcome, except that a parked change is Failed with policy
  // Park; Failed with any other policy means: stop. Counts, per source table, the changes
  // filtered (Filtered; Unmapped row changes under "schema.table") and parked.
  TransformOutcome transform(const Change& change, WriteBatch& out,
                             const std::function<void()>& prepare);

  // Transforms a parked change again (`pgmorph parked retry`): true when it gave writes (the
  // entry is then removed), false when it still fails (the entry is updated).
  bool retry(const ParkedRow& row, WriteBatch& out);

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
  const TableMapping* find(const Change& change);
  TransformOutcome transformMapped(const TableMapping* table, const Change& change, WriteBatch& out,
                                   const std::function<void()>& prepare);
  TransformOutcome transformWithPolicy(const TableMapping& table, const Change& change,
                                       WriteBatch& out);
  // `parked` followed by `later`, as one change (see above).
  static void merge(const Change& parked, const Change& later, Change& out);

  PgConnection& target_;
  Transformer& transformer_;
  const ParkedStore& store_;
  TableCountsMap& counts_;
  // source table (idName) -> legacy keys with a parked change
  std::unordered_map<std::string, std::unordered_set<std::string>> parked_;
  Change parkedChange_, merged_;  // scratch
  // Changes come in runs of one table: the last one's mapping and counts.
  const TableMapping* last_ = nullptr;
  TableCounts* lastCounts_ = nullptr;
};

}  // namespace pgmorph
