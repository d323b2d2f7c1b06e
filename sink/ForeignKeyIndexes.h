// ForeignKeyIndexes: snapshot.index_foreign_keys — the indexes that `check` advises for the
// target's unindexed foreign keys (UnindexedForeignKeys), built by the snapshot's bulk load.
//
// Why through SuspendedDdlStore: an index recorded there as suspended is built after its
// table's copy like the indexes the bulk load dropped (one sort instead of one insertion per
// row), and a crash at any point after the record leaves it recorded, so the next snapshot or
// run builds it; `follow` does not start before it is built. The record commits in the
// caller's transaction (the one that records the snapshot's intent).
//
// Names are deterministic, so that a snapshot that starts over records the same ones:
// "<table>_<col>[_<col>...]_fkidx", cut to PostgreSQL's 63 bytes on a UTF-8 boundary with 8
// hex digits of the full name's SHA-1 in place of the cut part; a name that another relation
// of the schema already has gets "_2", "_3", ... before "_fkidx".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "state/SuspendedDdlStore.h"

namespace pgmorph {

// The name before any clash is resolved: `attempt` 1 is the plain name, 2 and more add "_N".
std::string foreignKeyIndexName(std::string_view table, const std::vector<std::string>& columns,
                                int attempt = 1);

// In the caller's transaction: finds the foreign keys onto `parents` ("schema.table",
// unquoted) that no index leads with and records, for each, a CREATE INDEX as a suspended
// index of its table. Logs one line per index. Returns how many were recorded.
std::size_t recordForeignKeyIndexes(PgConnection& target, const SuspendedDdlStore& store,
                                    const std::vector<std::string>& parents);

}  // namespace pgmorph
