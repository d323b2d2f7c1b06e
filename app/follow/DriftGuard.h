// DriftGuard: the stream's side of schema drift. Holds the accepted shape of each mapped source
// table (state/SourceShapeStore, recorded by the start's checks) and compares every insert,
// update and delete with it before the change is transformed (transform/SchemaDrift).
//
// Contract: check() returns when the change shows no drift, or only drift that
// `on_schema_change` lets through (an unmapped added column under ignore_new_columns, which is
// then accepted in memory: the next start records it from the catalog). Otherwise it throws a
// PgmorphError of class Operator — the follower rolls back the open target transaction, so
// nothing of the drifted source transaction (nor of those buffered with it) is written, the
// checkpoint stays before it, and the command exits 2 without retrying. The message names the
// table, the columns, what changed, the source LSN, the mapping's FILE:LINE and what to do.
//
// Cost: one pass of short name and kind comparisons per change (SchemaDrift::sameColumns) while
// the columns are the accepted ones; the classification runs only on a mismatch. A retype is
// seen by a value's JSON kind (changes carry no types); the message then takes the new type
// from the source's catalog (one query, only when stopping). A table without
// a stored shape (a target prepared by an older pgmorph, or tests that skip the start's
// checks) is not checked.
#pragma once

#include <optional>
#include <unordered_map>

#include "cdc/model/Change.h"
#include "cdc/model/TableShape.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Config.h"
#include "transform/SchemaDrift.h"

namespace pgmorph {

class DriftGuard {
 public:
  // Reads the accepted shapes of `config`'s tables from the target's state schema.
  DriftGuard(const PipelineConfig& config, PgConnection& target);

  // `change`: an insert, update or delete of mapped `table`, at source transaction `xid`.
  // `checkpoint`: the committed checkpoint, for the message.
  void check(const TableMapping& table, const Change& change, std::uint32_t xid, Lsn checkpoint);

 private:
  struct Shapes {
    TableShape shape;
    std::vector<ExpectedKind> kinds;  // expectedKinds(shape)
    // The shape before the last accepted change: until a change in the new shape arrives, a
    // change written on the source before its DDL is not drift.
    std::optional<TableShape> previous;
  };
  void closer(const TableMapping& table, Shapes& shapes, const Change& change, std::uint32_t xid,
              Lsn checkpoint);

  const PipelineConfig& config_;
  std::unordered_map<const TableMapping*, Shapes> shapes_;
  const TableMapping* lastTable_ = nullptr;
  Shapes* last_ = nullptr;  // shapes_ of lastTable_; nullptr when it has none
};

}  // namespace pgmorph
