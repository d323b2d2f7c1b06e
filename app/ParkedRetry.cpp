// ParkedCommand::retry: `pgmorph parked retry` in batches that commit.
//
// Why batches: one transaction over 60k entries ran for many minutes with no output and lost
// everything on Ctrl-C. Each batch is its own target transaction: it takes the parked rows'
// lock (ParkedStore::lock, inside ParkingApplier::retry) so a running follower and the retry
// never apply two versions of a row out of order, and it commits with
// commitKeepingCheckpoint — a retry is not a source transaction, the checkpoint stays where
// the stream left it. A failure or a stop loses at most the batch in flight; entries of
// committed batches are applied and gone from the parked table, the rest stay parked.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <ostream>
#include <set>

#include "app/ParkedCommand.h"
#include "app/RetryLoop.h"
#include "app/StopFlag.h"
#include "cdc/pg/PgConnection.h"
#include "sink/ChangeParker.h"
#include "sink/ParkingApplier.h"
#include "sink/TargetCatalog.h"
#include "sink/TargetWriter.h"
#include "state/CheckpointStore.h"
#include "state/ParkedStore.h"
#include "transform/BatchOrderer.h"
#include "transform/Transformer.h"

namespace pgmorph {

namespace {

using Clock = std::chrono::steady_clock;

std::string eta(double seconds) {
  if (seconds < 0) return "-";
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// Entries parents first: by the FK rank of their target table (entries of tables the graph
// does not know, e.g. unconvertible changes, first: they may be parents), oldest first within.
std::vector<std::int64_t> parentsFirst(std::vector<ParkedStore::EntryRef> entries,
                                       const FkGraph& graph) {
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
    return graph.rank(a.targetTable) < graph.rank(b.targetTable);
  });
  std::vector<std::int64_t> ids;
  ids.reserve(entries.size());
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

}  // namespace

int ParkedCommand::retry(bool all, const Selection& selection, const RetryOptions& options,
                         std::ostream& out) {
  StopFlag stop;
  boost::asio::io_context io;
  StopSignals signals(io, stop, "stopping the retry after the batch in flight commits");

  PgConnection target(config_.target.conninfo, "target");
  ParkedStore store(config_.target.stateSchema, config_.pipeline);
  if (!store.exists(target)) {
    out << "nothing is parked\n";
    return 0;
  }
  int status = 0;
  std::vector<ParkedStore::EntryRef> chosen;
  if (all) {
    chosen = store.entries(target);
  } else {
    std::set<std::int64_t> found;
    for (const ParkedRow& r : store.byIds(target, selection.ids)) {
      found.insert(r.id);
      chosen.push_back({r.id, r.targetTable});
    }
    for (auto id : selection.ids)
      if (!found.count(id)) {
        out << fmt::format("no parked row with id {}\n", id);
        status = 1;
      }
    if (chosen.empty()) return status;
  }
  Transformer transformer(config_);
  TargetCatalog catalog = TargetCatalog::read(target, transformer.targetTables());
  BatchOrderer orderer(catalog.graph());
  CheckpointStore checkpoints(config_.target.stateSchema, config_.pipeline);
  TargetWriter writer(target, checkpoints, config_.source.slot);
  TableCountsMap counts;
  ParkingApplier parking(target, transformer.plans(), writer, catalog, orderer, store, counts);
  ChangeParker changes(target, transformer.config(), store, counts);
  // A parked source change is transformed again here, with the mapping as it is now.
  auto retryChange = [&](const ParkedRow& row, WriteBatch& out) {
    return changes.retry(row, out, [&](const Change& change, WriteBatch& writes) {
      return transformer.transformWithPolicy(change, writes);
    });
  };

  std::vector<std::int64_t> ids = parentsFirst(std::move(chosen), catalog.graph());
  const std::size_t batch = std::max<std::size_t>(1, options.batch);
  const std::size_t batches = (ids.size() + batch - 1) / batch;
  spdlog::info("retrying {} parked row{} in {} batch{} of up to {} (each commits on its own)",
               ids.size(), ids.size() == 1 ? "" : "s", batches, batches == 1 ? "" : "es", batch);
  ParkingApplier::RetryReport total;
  const auto started = Clock::now();
  auto lastProgress = started;
  std::size_t done = 0;  // entries of the list handled (by their own batch)
  bool stopped = false;
  for (std::size_t from = 0; from < ids.size(); from += batch) {
    std::span<const std::int64_t> part(ids.data() + from, std::min(batch, ids.size() - from));
    writer.begin();
    ParkingApplier::RetryReport report;
    try {
      report = parking.retry(part, retryChange);
    } catch (...) {
      writer.rollback();
      parking.forget();
      throw;
    }
    writer.commitKeepingCheckpoint("of the retried parked rows");
    total.tried += report.tried;
    total.applied += report.applied;
    total.stillParked += report.stillParked;
    total.moot += report.moot;
    total.refusedByTarget += report.refusedByTarget;
    total.parentStillMissing += report.parentStillMissing;
    done += part.size();
    io.poll();  // a signal is handled here, between batches: the one in flight has committed
    auto now = Clock::now();
    if (done < ids.size() && now - lastProgress >= options.progressEvery) {
      lastProgress = now;
      double secs = std::chrono::duration<double>(now - started).count();
      double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
      spdlog::info(
          "parked retry: {} / {} entries ({:.0f}%), {} applied, {} still parked, "
          "{:.0f} entries/s, ETA {}",
          done, ids.size(), 100.0 * static_cast<double>(done) / ids.size(), total.applied,
          total.stillParked, rate,
          eta(rate > 0 ? static_cast<double>(ids.size() - done) / rate : -1));
    }
    if (stop.requested()) {
      stopped = done < ids.size();
      break;
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - started).count();
  std::string line = fmt::format(
      "retried {} parked row{}: {} applied, {} still parked (attempts + 1), {} made moot by later "
      "changes and removed",
      total.tried, total.tried == 1 ? "" : "s", total.applied, total.stillParked, total.moot);
  if (total.stillParked)
    line += fmt::format(
        "; of those still parked, {} still miss their parent (checked before writing, not "
        "sent) and {} were refused by the target again",
        total.parentStillMissing, total.refusedByTarget);
  line += fmt::format(" ({:.1f} s)", secs);
  if (stopped)
    line += fmt::format(
        ". Stopped on request after {} of {} entries: the committed batches stay applied, the "
        "other {} entries stay parked (run the retry again to go on)",
        done, ids.size(), ids.size() - done);
  spdlog::info("{}", line);
  out << line << '\n';
  return status;
}

}  // namespace pgmorph
