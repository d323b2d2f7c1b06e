// SourceQuiet: waits until the source is quiet for the cutover, or says why it is not.
//
// Quiet means, for CutoverOptions::quietSeconds in a row:
//  - no mapped source table was written: the sum n_tup_ins + n_tup_upd + n_tup_del of
//    pg_stat_user_tables, sampled every 200 ms, did not move (a backend reports its counters
//    at the end of each transaction, flushed within about a second, so a write is seen at
//    most that late; a change of the counters restarts the interval);
//  - no client session of the source database holds a write transaction open
//    (pg_stat_activity.backend_xid IS NOT NULL), and no transaction is prepared there
//    (pg_prepared_xacts): either could still commit a write;
//  - every session of the database could be inspected (a role without pg_read_all_stats
//    sees other roles' sessions without their transaction ids: "cannot tell" is not quiet).
// Why not the WAL position: it moves without a write to a mapped table (follow's heartbeat,
// other tables, vacuum), and table counters name the table that was written.
//
// It changes the source only when asked: --set-source-read-only runs ALTER DATABASE ... SET
// default_transaction_read_only = on first (sessions opened from then on); --terminate-writers
// ends each session found holding a write transaction open (pg_terminate_backend), otherwise
// they are waited for. Every change is listed in QuietResult::sourceChanges with how to undo it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "app/StopFlag.h"
#include "app/cutover/CutoverOptions.h"
#include "transform/Config.h"

namespace pgmorph {

struct OpenWriter {
  int pid = 0;
  std::string user, application, clientAddr, state, xactStart, query;  // query cut at 200
  std::string describe() const;
};

struct TableWrites {
  std::string table;          // "schema.table"
  std::int64_t rows = 0;      // rows inserted, updated or deleted while waiting
  double lastSecondsAgo = 0;  // how long before the end the last of them was seen
};

struct QuietResult {
  bool quiet = false;
  double waitedSeconds = 0;
  std::vector<OpenWriter> writers;               // holding a write transaction open at the end
  std::vector<OpenWriter> seen;                  // every session seen holding one while waiting
  std::vector<OpenWriter> terminated;            // ended by --terminate-writers
  std::vector<std::string> prepared;             // prepared transactions at the end ("gid (owner)")
  int uninspectable = 0;                         // sessions whose transaction could not be seen
  std::vector<TableWrites> written;              // mapped tables written while waiting
  std::vector<std::string> sourceChanges;        // what was changed on the source, with the undo
  std::map<std::string, std::int64_t> counters;  // per mapped table, at the end
  std::chrono::steady_clock::time_point endedAt;  // of the last sample
  // What was found, as sentences (the report's details of the "source quiet" check).
  std::vector<std::string> details(const CutoverOptions& options) const;
};

class SourceQuiet {
 public:
  SourceQuiet(const PipelineConfig& config, const CutoverOptions& options, const StopFlag& stop);

  // Throws PgError when the source cannot be reached or changed (ALTER DATABASE needs the
  // database's owner).
  QuietResult await();

  // How late a committed write can show in pg_stat_user_tables: a backend flushes its counters
  // at most once a second (PGSTAT_MIN_INTERVAL), and when it goes idle.
  static constexpr std::chrono::milliseconds kStatsDelay{1500};

  // After the gate (the final LSN taken, verify done): what broke the quiet since `quiet`
  // ended — the mapped tables written since and the sessions holding a write transaction
  // open now — as sentences; empty when it still holds. It samples no sooner than
  // kStatsDelay after `quiet` ended, so that a write committed just before that has been
  // flushed to the statistics by then.
  std::vector<std::string> brokenSince(const QuietResult& quiet);

 private:
  const PipelineConfig& config_;
  const CutoverOptions& options_;
  const StopFlag& stop_;
};

}  // namespace pgmorph
