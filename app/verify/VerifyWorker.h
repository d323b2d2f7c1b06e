// VerifyWorker: one of verify's parallel workers. It owns a source session importing the
// source snapshot (SnapshotReader), a target session importing the pinned target snapshot
// (pg_export_snapshot of the session that took it), and a Transformer of its own (they keep
// per-thread caches). It takes target tables from the shared queue — largest first — and builds
// and compares each one in its target transaction.
//
// Contract: run() returns when the queue is empty or `cancel` is set; the first error of any
// worker sets `cancel` and is rethrown by the caller after every worker has stopped.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "app/StopFlag.h"
#include "app/verify/VerifyOptions.h"
#include "app/verify/VerifyResult.h"
#include "cdc/SnapshotReader.h"
#include "sink/TargetCatalog.h"
#include "transform/Config.h"

namespace pgmorph {

// One target table to compare: its plans (indexes into Transformer::plans(), the same in every
// worker's Transformer since they are built from one config), in file order, with their reads.
struct VerifyTable {
  std::string name;  // "schema.table"
  struct Part {
    std::size_t plan = 0;
    SnapshotRead read;
  };
  std::vector<Part> upserts, partials;
  std::vector<std::string> sourceTables;
  double estimatedRows = 0;  // for the order of the queue
};

struct VerifyShared {
  const PipelineConfig* config = nullptr;
  const TargetCatalog* catalog = nullptr;
  const VerifyOptions* options = nullptr;
  const StopFlag* stop = nullptr;
  std::string sourceSnapshot;        // the temporary slot's exported snapshot
  std::string targetSnapshot;        // pg_export_snapshot() of the pinned target transaction
  std::string parkedTable;           // quoted, or "" when there is none
  std::vector<VerifyTable> tables;   // in queue order
  std::vector<TableResult> results;  // by index into tables
  std::atomic<std::size_t> next{0};
  std::atomic<bool> cancel{false};
};

class VerifyWorker {
 public:
  explicit VerifyWorker(VerifyShared& shared) : shared_(shared) {}
  void run();

 private:
  VerifyShared& shared_;
};

}  // namespace pgmorph
