// The parent checker's cache of rows known to exist: sink/UuidSet (flat, open addressing)
// against the std::unordered_set<Uuid, UuidHash> it replaced, on the cache's own workload —
// fill it with the ids of written rows, then ask for the parents of later rows (half of them
// known). Arg: the number of ids (the cache's bound is 200,000).
#include <benchmark/benchmark.h>

#include <random>
#include <unordered_set>
#include <vector>

#include "cdc/model/Uuid.h"
#include "sink/UuidSet.h"

namespace {

using pgmorph::Uuid;

std::vector<Uuid> ids(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Uuid> out(n);
  for (Uuid& id : out)
    for (int half = 0; half < 2; ++half) {
      std::uint64_t v = rng();
      for (int b = 0; b < 8; ++b) id.bytes[half * 8 + b] = static_cast<std::uint8_t>(v >> (8 * b));
    }
  return out;
}

template <typename Set, typename Insert, typename Contains>
void run(benchmark::State& state, Insert insert, Contains contains) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<Uuid> written = ids(n, 1), unknown = ids(n, 2);
  std::size_t hits = 0;
  for (auto _ : state) {
    Set set;
    for (const Uuid& id : written) insert(set, id);
    for (std::size_t i = 0; i < n; ++i) hits += contains(set, (i & 1) ? written[i] : unknown[i]);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2 * n));
}

void BM_UuidSet_Flat(benchmark::State& state) {
  run<pgmorph::UuidSet>(
      state, [](pgmorph::UuidSet& s, const Uuid& id) { s.insert(id); },
      [](const pgmorph::UuidSet& s, const Uuid& id) { return s.contains(id); });
}
BENCHMARK(BM_UuidSet_Flat)->Arg(10000)->Arg(200000);

void BM_UuidSet_StdUnordered(benchmark::State& state) {
  using Std = std::unordered_set<Uuid, pgmorph::UuidHash>;
  run<Std>(
      state, [](Std& s, const Uuid& id) { s.insert(id); },
      [](const Std& s, const Uuid& id) { return s.count(id) != 0; });
}
BENCHMARK(BM_UuidSet_StdUnordered)->Arg(10000)->Arg(200000);

}  // namespace
