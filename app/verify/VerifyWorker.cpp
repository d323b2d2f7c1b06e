#include "app/verify/VerifyWorker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "app/verify/ExpectedRows.h"
#include "app/verify/TableComparer.h"
#include "cdc/pg/PgConnection.h"
#include "transform/Transformer.h"

namespace pgmorph {

void VerifyWorker::run() {
  const PipelineConfig& config = *shared_.config;
  SnapshotReader source(config.source.conninfo, shared_.sourceSnapshot);
  PgConnection target(config.target.conninfo, "target (verify)");
  target.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  // SET TRANSACTION SNAPSHOT takes no parameters: the name goes in as an escaped literal.
  target.exec("SET TRANSACTION SNAPSHOT " + target.quoteLiteral(shared_.targetSnapshot));
  Transformer transformer(config);
  // Stopping is both the command's stop request and another worker's failure.
  ExpectedRows expected(target, source, transformer,
                        [&] { return shared_.cancel.load() || shared_.stop->requested(); });
  TableComparer comparer(target, shared_.parkedTable, config.pipeline,
                         shared_.options->maxDifferences);
  for (;;) {
    if (shared_.cancel.load() || shared_.stop->requested()) return;
    std::size_t i = shared_.next.fetch_add(1);
    if (i >= shared_.tables.size()) return;
    const VerifyTable& t = shared_.tables[i];
    auto started = std::chrono::steady_clock::now();
    const TargetTable* table = shared_.catalog->table(t.name);
    if (!table) throw PgmorphError(ErrorClass::Operator, "target table " + t.name + " is missing");
    auto parts = [&](const std::vector<VerifyTable::Part>& in) {
      std::vector<ExpectedSource> out;
      for (const auto& p : in) out.push_back({&transformer.plans()[p.plan], p.read});
      return out;
    };
    ExpectedTable e = expected.build(*table, fmt::format("pgmorph_verify_{}", i), parts(t.upserts),
                                     parts(t.partials));
    TableResult& r = shared_.results[i];
    r.targetTable = t.name;
    r.sourceTables = t.sourceTables;
    r.columns = e.columns;
    if (!t.upserts.empty()) {
      const auto& m = *transformer.plans()[t.upserts.front().plan].mapping;
      if (m.legacyIdColumn) r.legacyIdColumn = *m.legacyIdColumn;
    }
    r.unconvertible = e.unconvertible;
    r.unconvertibleSamples = e.unconvertibleSamples;
    r.setWithoutRow = e.setWithoutRow;
    comparer.compare(*table, e, r);
    expected.drop(e);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("verify: {} {} ({} expected rows, {} on the target, {:.2f} s)", t.name,
                 r.equal() ? "equal" : "DIFFERENT", r.expectedRows, r.targetRows, r.seconds);
  }
}

}  // namespace pgmorph
