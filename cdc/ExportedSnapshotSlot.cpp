#include "cdc/ExportedSnapshotSlot.h"

#include <fmt/format.h>

#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

ExportedSnapshotSlot ExportedSnapshotSlot::create(const std::string& sourceConninfo,
                                                  const std::string& slot, Lifetime lifetime) {
  ExportedSnapshotSlot out;
  out.conn_ = std::make_unique<PgConnection>(sourceConninfo, "replication",
                                             PgConnection::Mode::Replication);
  PgConnection& conn = *out.conn_;
  std::string sql =
      fmt::format("CREATE_REPLICATION_SLOT {}{} LOGICAL wal2json (SNAPSHOT 'export')",
                  conn.quoteIdent(slot), lifetime == Lifetime::Temporary ? " TEMPORARY" : "");
  PgResult res;
  try {
    res = conn.exec(sql);
  } catch (const PgError& e) {
    if (e.sqlstate() == sqlstate::kDuplicateObject)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("replication slot \"{}\" already exists on the source, so no snapshot can be "
                      "exported with it: run `pgmorph snapshot --recreate-slot` to drop and "
                      "re-create it. ({})",
                      slot, e.what()));
    throw;
  }
  if (res.rows() != 1 || res.columns() < 3 || res.isNull(0, 2))
    throw PgError(fmt::format("replication database: CREATE_REPLICATION_SLOT \"{}\" with an "
                              "exported snapshot returned {} rows of {} columns, expected 1 row "
                              "with a snapshot name",
                              slot, res.rows(), res.columns()),
                  std::string(sqlstate::kProtocolViolation));
  out.slot_ = std::string(res.value(0, 0));
  out.consistentPoint_ = Lsn::parse(res.value(0, 1));
  out.snapshotName_ = std::string(res.value(0, 2));
  return out;
}

}  // namespace pgmorph
