// DriftBench: the per-change cost of schema drift detection while following
// (SchemaDrift::sameColumns, what DriftGuard runs for every insert, update and delete), on a
// dispatch_instruction insert of 10 columns as the decoder fills it (names, no types, values of
// each JSON kind). Compare with BM_Pipeline_* (decode + transform per change) for its share.
#include <benchmark/benchmark.h>

#include "cdc/model/Change.h"
#include "cdc/model/TableShape.h"
#include "transform/SchemaDrift.h"

namespace {

using pgmorph::Change;
using pgmorph::ChangeKind;
using pgmorph::TableShape;
using pgmorph::ValueKind;

void BM_DriftSameColumns_Insert10(benchmark::State& state) {
  TableShape shape{{{"id", "integer", false},
                    {"patient_id", "integer", false},
                    {"doctor_id", "integer", false},
                    {"upper_jaw_id", "integer", false},
                    {"lower_jaw_id", "integer", false},
                    {"status", "smallint", false},
                    {"price", "numeric(12,2)", true},
                    {"notes", "text", true},
                    {"submitted_at", "timestamp without time zone", false},
                    {"created_at", "timestamp without time zone", false}}};
  auto kinds = pgmorph::expectedKinds(shape);
  Change c;
  c.kind = ChangeKind::Insert;
  c.setSchema("public");
  c.setTable("dispatch_instruction");
  for (const auto& col : shape.columns) {
    bool number = col.type == "integer" || col.type == "smallint" || col.type == "numeric(12,2)";
    c.addColumn(col.name, "", number ? "42" : "2024-05-01 12:00:00",
                number ? ValueKind::Number : ValueKind::String);
  }
  if (!pgmorph::SchemaDrift::sameColumns(shape, kinds, c)) {
    state.SkipWithError("the change does not match its own shape");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(pgmorph::SchemaDrift::sameColumns(shape, kinds, c));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftSameColumns_Insert10);

}  // namespace
