// DispatchEnvironment: everything one end-to-end test of the dispatch example needs, owned
// for the test's lifetime and cleaned up when it ends — also when an assertion fails:
//   * a fresh source database (source.sql + uuid-ossp) on test::sharedSource() and a fresh
//     target database (target.sql) on test::sharedTarget();
//   * the pipeline file (the example mapping with this test's conninfos, pipeline name, slot
//     and state schema) in a private work directory;
//   * every child process the test starts (pgmorph runs, pgbench writers), each with its
//     stdout/stderr in the work directory;
//   * the replication slot, whoever created it.
// Destruction order: children killed and reaped, slot dropped, databases dropped, work
// directory removed (kept, and its path printed, when keepWorkDir() was called).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"
#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/ExampleConfig.h"
#include "tests/e2e/TargetComparison.h"
#include "tests/support/PgCluster.h"

namespace pgmorph::e2e {

struct CheckpointRow {
  Lsn lsn;
  std::string slot;
  std::int64_t appliedTransactions = 0;
};

struct SlotState {
  std::optional<Lsn> confirmedFlush;  // NULL while the slot is still being created
  std::optional<int> activePid;       // the walsender streaming from it, if any
};

struct RunResult {
  int exitStatus = -1;
  std::string stderrText;
  double seconds = 0;
};

class DispatchEnvironment {
 public:
  using Seconds = std::chrono::seconds;

  // `edits` change the example mapping for this test (see MappingEdit).
  explicit DispatchEnvironment(std::vector<MappingEdit> edits = {});
  ~DispatchEnvironment();
  DispatchEnvironment(const DispatchEnvironment&) = delete;
  DispatchEnvironment& operator=(const DispatchEnvironment&) = delete;

  test::PgCluster& source() const;
  test::PgCluster& target() const;
  const std::string& sourceDb() const { return sourceDb_; }
  const std::string& targetDb() const { return targetDb_; }
  std::string sourceConninfo() const;
  std::string targetConninfo() const;
  PgConnection connectSource() const;
  PgConnection connectTarget() const;
  const std::string& slot() const { return slot_; }
  const std::string& pipeline() const { return pipeline_; }
  const std::string& stateSchema() const { return stateSchema_; }
  const std::string& configPath() const { return configPath_; }
  const std::string& idNamespace() const { return idNamespace_; }
  const std::string& workDir() const { return workDir_; }

  // --- pgmorph -------------------------------------------------------------------------
  // Starts `pgmorph follow -c <config> --log-level <level> [extra...]`. The process is owned
  // here; the reference stays valid until the environment is destroyed.
  ChildProcess& startFollow(const std::vector<std::string>& extra = {});
  // Runs `pgmorph follow --until-caught-up` to its end. A run that has not ended after
  // `timeout` is killed and reported with std::runtime_error (its stderr included).
  // With `flushSourceFirst`, the source's WAL is flushed first (see flushSourceWal): every
  // commit made so far is then below pg_current_wal_lsn(), which is what pgmorph reads.
  RunResult runFollowUntilCaughtUp(Seconds timeout = Seconds(180), bool flushSourceFirst = true);
  // Runs follow (streaming) and expects it to stop on its own (an error): returns how.
  RunResult runFollowExpectingExit(Seconds timeout = Seconds(120));
  // SIGINT, then waits for a clean exit. Returns the exit status; throws on timeout.
  int stopGracefully(ChildProcess& process, Seconds timeout = Seconds(60));

  // --- writers -------------------------------------------------------------------------
  // sample-data.sql at `scale` without warts, through psql, into the source.
  void loadSampleData(int scale = 1) const;
  // pgbench with tests/workload/oltp.sql (-n -c 2 -T seconds -D scale=N) on the source;
  // `ratePerSecond` > 0 adds -R (a steady load instead of as fast as possible).
  ChildProcess& startWriter(Seconds duration, int ratePerSecond = 0, int scale = 1);
  // Waits for a writer to end by itself; throws with its output unless it exits 0.
  void finishWriter(ChildProcess& writer, Seconds grace = Seconds(60));

  // --- observing -----------------------------------------------------------------------
  std::optional<SlotState> slotState() const;
  // Waits until the slot exists and is consistent (confirmed_flush_lsn set) and, when
  // `streaming`, a walsender is active on it. Throws if `pgmorph` exits or time runs out.
  void waitForSlot(ChildProcess& pgmorph, bool streaming, Seconds timeout = Seconds(60)) const;
  // The checkpoint row of this pipeline, if the state table and the row exist yet.
  std::optional<CheckpointRow> checkpoint() const;
  // Makes the source write and flush all of its WAL: one synchronously committed transaction
  // that changes no mapped row. Asynchronous commits (the test clusters run
  // synchronous_commit=off) can otherwise sit in WAL buffers, above pg_current_wal_lsn().
  void flushSourceWal() const;
  // pg_current_wal_lsn() of the source.
  Lsn sourceWalLsn() const;
  // Rows inserted + updated + deleted in the source database's user tables (statistics).
  std::int64_t sourceRowsChanged() const;
  ComparisonReport compareWithProjection() const;
  // Command line, exit status and stderr tail of every child started so far.
  std::string diagnostics(std::size_t tailLines = 60) const;
  // Drops the slot (ending a walsender still attached to it). Idempotent; throws if the
  // slot cannot be dropped within 30 s.
  void dropSlot() const;
  // Creates the slot afresh with wal2json, as an operator would by hand.
  void createSlotBySql() const;
  // Do not remove the work directory (a failed test's logs stay for a post-mortem; also
  // when PGMORPH_E2E_KEEP=1 is set).
  void keepWorkDir() { keepWorkDir_ = true; }

 private:
  ChildProcess& spawn(std::vector<std::string> argv, const std::string& tag);
  void cleanup() noexcept;

  std::string workDir_;
  std::string sourceDb_, targetDb_;
  std::string slot_, pipeline_, stateSchema_;
  std::string configPath_;
  std::string idNamespace_;
  std::string logLevel_;
  std::vector<std::unique_ptr<ChildProcess>> children_;
  bool keepWorkDir_ = false;
};

}  // namespace pgmorph::e2e
