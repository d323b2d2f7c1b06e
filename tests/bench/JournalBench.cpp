// JournalBench: the durable change journal (state/journal) alone, on dispatch-shaped wal2json
// v2 messages (the shape DecodeBench uses: ~700 bytes, five per transaction). Append measures
// begin/append/commit with a sync() (fdatasync) every N transactions, as follow batches them;
// Read measures a reader going through the whole journal. The second argument is
// JournalOptions::compress (zstd blocks of a transaction's messages). Items/s = transactions per
// second; bytes/s = message bytes. The directory is under $TMPDIR (so the disk under /tmp is what
// is measured) and removed after.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "state/journal/Crc32c.h"
#include "state/journal/Journal.h"

namespace {

namespace fs = std::filesystem;
using pgmorph::JournalOptions;
using pgmorph::JournalReader;
using pgmorph::JournalWriter;
using pgmorph::Lsn;

constexpr int kMessagesPerTxn = 5;

std::string message(std::uint64_t i, std::uint64_t lsn) {
  return fmt::format(
      R"j({{"action":"I","xid":{},"timestamp":"2025-03-14 09:26:53.589793+00","lsn":"{:X}/{:X}",)j"
      R"j("schema":"public","table":"dispatch_instruction","columns":[)j"
      R"j({{"name":"id","type":"integer","value":{}}},{{"name":"patient_id","type":"integer","value":{}}},)j"
      R"j({{"name":"doctor_id","type":"integer","value":{}}},{{"name":"upper_jaw_id","type":"integer","value":{}}},)j"
      R"j({{"name":"lower_jaw_id","type":"integer","value":{}}},{{"name":"status","type":"smallint","value":{}}},)j"
      R"j({{"name":"price","type":"numeric(12,2)","value":{}.{:02}}},)j"
      R"j({{"name":"notes","type":"text","value":"Patient {} prefers \"clear\" aligners.\nCheck the lower jaw scan before production."}},)j"
      R"j({{"name":"submitted_at","type":"timestamp without time zone","value":"2024-0{}-1{} 1{}:2{}:3{}.{}"}},)j"
      R"j({{"name":"created_at","type":"timestamp without time zone","value":"2024-0{}-0{} 08:00:00"}}]}})j",
      5000 + i / kMessagesPerTxn, lsn >> 32, lsn & 0xFFFFFFFF, i + 1, 1 + i % 800, 1 + i % 60,
      2 * i + 1, 2 * i + 2, i % 5, 1000 + i % 15000, i % 100, i + 1, 1 + i % 9, i % 10, i % 10,
      i % 10, i % 10, 100000 + i, 1 + i % 9, 1 + i % 9);
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pgmorph-journal-bench-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// 1,000 distinct transactions' messages, cycled (generating them is not what is measured).
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> messages = [] {
    std::vector<std::string> m;
    for (std::uint64_t i = 0; i < 1000 * kMessagesPerTxn; ++i)
      m.push_back(message(i, 0x16B374D848 + i * 800));
    return m;
  }();
  return messages;
}

std::uint64_t writeTxn(JournalWriter& w, std::uint64_t n) {
  const auto& m = corpus();
  std::uint64_t bytes = 0;
  const std::uint64_t commit = 0x100000 + (n + 1) * 10000;
  w.begin(Lsn(commit));
  for (int i = 0; i < kMessagesPerTxn; ++i) {
    const auto& payload = m[(n * kMessagesPerTxn + i) % m.size()];
    w.append(Lsn(commit - 9000 + i), payload);
    bytes += payload.size();
  }
  w.commit();
  return bytes;
}

void BM_JournalAppend(benchmark::State& state) {
  const auto syncEvery = static_cast<std::uint64_t>(state.range(0));
  const bool compress = state.range(1) != 0;
  TempDir dir;
  JournalOptions o;
  o.dir = dir.path;
  o.segmentBytes = 16 << 20;
  o.retainBytes = 64 << 20;  // keeps the disk use bounded; retention is part of the cost
  o.compress = compress;
  JournalWriter w(o);
  w.startAt(Lsn(0x100000));
  std::uint64_t n = 0, bytes = 0;
  for (auto _ : state) {
    bytes += writeTxn(w, n);
    if (++n % syncEvery == 0) w.sync();
    if (n % 20000 == 0) w.applyRetention();
  }
  w.sync();
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_JournalAppend)
    ->ArgsProduct({{1, 10, 100, 1000}, {0, 1}})
    ->ArgNames({"sync_every", "compress"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_JournalRead(benchmark::State& state) {
  TempDir dir;
  constexpr std::uint64_t kTxns = 50000;
  std::uint64_t bytes = 0;
  {
    JournalOptions o;
    o.dir = dir.path;
    o.segmentBytes = 16 << 20;
    o.compress = state.range(0) != 0;
    JournalWriter w(o);
    w.startAt(Lsn(0x100000));
    for (std::uint64_t n = 0; n < kTxns; ++n) bytes += writeTxn(w, n);
    w.sync();
  }
  for (auto _ : state) {
    JournalReader r(dir.path);
    r.seek(Lsn(0x100000));
    std::uint64_t seen = 0;
    while (auto rec = r.next()) seen += rec->payload.size();
    if (seen != bytes) state.SkipWithError("the reader did not see every message");
  }
  std::uint64_t onDisk = 0;
  for (const auto& entry : fs::directory_iterator(dir.path))
    if (entry.path().extension() == ".seg") onDisk += entry.file_size();
  state.counters["disk_ratio"] = static_cast<double>(bytes) / static_cast<double>(onDisk);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTxns));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_JournalRead)
    ->ArgName("compress")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

namespace {

// The frames' checksum alone, on a frame-sized input (one dispatch-shaped message): Boost.CRC's
// table-driven form (arg 0) against the SSE4.2 instruction (arg 1), the reason Crc32c.cpp exists.
void BM_Crc32c(benchmark::State& state) {
  const bool hardware = state.range(0) == 1;
  if (hardware && !pgmorph::journal::hasHardwareCrc32c()) {
    state.SkipWithError("no SSE4.2 on this CPU");
    return;
  }
  std::string frame;
  for (std::uint64_t i = 0; i < 4; ++i) frame += message(i, 0x16B3F28 + i * 256);
  std::uint32_t sum = 0;
  for (auto _ : state) {
    sum ^=
        hardware ? pgmorph::journal::crc32cHardware(frame) : pgmorph::journal::crc32cBoost(frame);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
  state.SetLabel(hardware ? "hardware" : "boost");
}
BENCHMARK(BM_Crc32c)->Arg(0)->Arg(1);

}  // namespace
