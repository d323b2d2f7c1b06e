// SlotManager is the control plane of the source side: it checks that the source can do
// logical decoding with wal2json, and creates, inspects and drops the logical slot. It
// opens a short-lived connection per call (normal, or replication=database for
// CREATE_REPLICATION_SLOT) and keeps none open; streaming is ReplicationStream's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct SlotInfo {
  std::string name, plugin, database, walStatus;  // walStatus "" when the server has none
  bool active = false;
  int activePid = 0;               // the walsender streaming from it; 0 when not active
  Lsn restartLsn, confirmedFlush;  // 0 when NULL (e.g. a lost slot)
  // Bytes of WAL that can still be written before the slot is in danger of being lost
  // (max_slot_wal_keep_size); nullopt when unlimited or the slot is lost.
  std::optional<std::int64_t> safeWalSize;
};

struct CreatedSlot {
  std::string name;
  Lsn consistentPoint;       // streaming starts here; a snapshot taken here meets it exactly
  std::string snapshotName;  // "" unless the snapshot was exported
};

class SlotManager {
 public:
  static constexpr std::string_view kPlugin = "wal2json";

  explicit SlotManager(std::string sourceConninfo);

  // The slot's row of pg_replication_slots, or nullopt when there is no such slot.
  std::optional<SlotInfo> inspect(const std::string& slot);

  // CREATE_REPLICATION_SLOT "slot" LOGICAL wal2json (SNAPSHOT 'nothing'). Waits until
  // transactions running on the source have ended (that is how the server finds a
  // consistent point). Throws PgmorphError (Operator) with what to do when the slot
  // exists, slots are exhausted, or wal2json is missing or not allowed.
  CreatedSlot create(const std::string& slot);

  // pg_drop_replication_slot; no error when the slot does not exist. Throws PgError if
  // the slot is in use by a running stream.
  void drop(const std::string& slot);

  // Every reason the source cannot feed pgmorph through `slot`, one sentence each, saying
  // what to do: wal_level, max_replication_slots / max_wal_senders, the REPLICATION
  // privilege, output_plugin_libraries (PostgreSQL 15.19+ only lets listed plugins
  // decode), wal2json installed (checked when the role may read the server's files), and,
  // when `slot` is given and exists, that it is a wal2json slot of this database that is
  // not lost. Empty when all is well.
  std::vector<std::string> sourceProblems(const std::string& slot = {});

  // The part of sourceProblems(slot) about the slot alone: when `slot` exists, that it is a
  // wal2json slot of this database that is not lost. Empty when it does not exist.
  std::vector<std::string> slotProblems(const std::string& slot);

  // Throws PgmorphError (Operator) listing every problem of sourceProblems(slot).
  void checkSource(const std::string& slot = {});

 private:
  // Creates the slot on `replicationConn`. `snapshotAction` is 'nothing' today; the
  // snapshot task adds 'export', whose caller must keep that connection open and idle
  // until every reader has imported the snapshot (the next command ends it).
  CreatedSlot createOn(PgConnection& replicationConn, const std::string& slot,
                       std::string_view snapshotAction);

  std::vector<std::string> slotProblemsOn(PgConnection& conn, const std::string& slot,
                                          const std::string& database);

  std::string conninfo_;
};

}  // namespace pgmorph
