// ExportedSnapshotSlot: a logical slot created together with an exported snapshot, and the
// replication connection that keeps that snapshot alive.
//
// CREATE_REPLICATION_SLOT "slot" LOGICAL wal2json (SNAPSHOT 'export') returns the slot's
// consistent point and the name of a snapshot that sees the database exactly as of that
// point: every transaction committed before it, none after. Readers that import the
// snapshot (SET TRANSACTION SNAPSHOT) and streaming from the consistent point therefore
// meet exactly (invariant 3).
//
// Contract:
//  - The snapshot stays importable only while the exporting connection is open AND idle:
//    the next command on it, or its end, invalidates the snapshot. This object therefore
//    sends nothing on the connection after creating the slot, and keeps it open until
//    release() or destruction. Transactions that already imported the snapshot keep it.
//  - A permanent slot survives release() and this process; a temporary one ends with release().
//  - Not thread-safe; readers on other threads only need snapshotName().
#pragma once

#include <memory>
#include <string>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

class ExportedSnapshotSlot {
 public:
  // Permanent: the pipeline's own slot. Temporary: a slot that only pins a position and a
  // snapshot (pgmorph verify); the server drops it when the exporting connection ends.
  enum class Lifetime { Permanent, Temporary };

  // Connects with replication=database and creates `slot` (plugin wal2json) with an
  // exported snapshot. Waits, like the server does, for transactions running on the
  // source to end. Throws PgmorphError (Operator) when the slot already exists, PgError
  // for other refusals.
  static ExportedSnapshotSlot create(const std::string& sourceConninfo, const std::string& slot,
                                     Lifetime lifetime = Lifetime::Permanent);

  ExportedSnapshotSlot(ExportedSnapshotSlot&&) noexcept = default;
  ExportedSnapshotSlot& operator=(ExportedSnapshotSlot&&) noexcept = default;
  ~ExportedSnapshotSlot() = default;

  const std::string& slot() const { return slot_; }
  Lsn consistentPoint() const { return consistentPoint_; }
  const std::string& snapshotName() const { return snapshotName_; }
  // True until release(): the snapshot can still be imported (unless the server went away).
  bool holding() const { return conn_ != nullptr; }
  // Closes the exporting connection; the snapshot can no longer be imported.
  void release() { conn_.reset(); }

 private:
  ExportedSnapshotSlot() = default;

  std::unique_ptr<PgConnection> conn_;
  std::string slot_;
  Lsn consistentPoint_;
  std::string snapshotName_;
};

}  // namespace pgmorph
