// DecodeBench: Wal2JsonDecoder alone on one core, on dispatch-shaped messages in the exact
// form wal2json 2.5 sends them with pgmorph's plugin options (format-version 2, xids,
// timestamps, LSNs; types only if the options ask for them): inserts into dispatch_instruction (10
// columns, a numeric price, a text note with escapes), dispatch_notification (JSON-as-text context,
// full of escaped quotes) and dispatch_payment, and an UPDATE with its identity. One decoder and
// one Change are reused, as the pipeline does. Items/s = messages decoded per second; bytes/s =
// JSON read. Goal (ARCHITECTURE.md): well over 1,000,000 per second.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/Wal2JsonDecoder.h"
#include "cdc/model/Change.h"
#include "tests/bench/StreamShape.h"

namespace {

std::string lsnText(std::uint64_t v) {
  return fmt::format("{:X}/{:X}", static_cast<std::uint32_t>(v >> 32),
                     static_cast<std::uint32_t>(v));
}

std::string header(const char* action, int xid, std::uint64_t lsn, const char* table) {
  return fmt::format(
      R"j({{"action":"{}","xid":{},"timestamp":"2025-03-14 09:26:53.589793+00","lsn":"{}",)j"
      R"j("schema":"public","table":"{}",)j",
      action, xid, lsnText(lsn), table);
}

std::string instructionInsert(int i, std::uint64_t lsn) {
  return header("I", 5000 + i / 10, lsn, "dispatch_instruction") +
         fmt::format(
             R"j("columns":[{{"name":"id","type":"integer","value":{}}},)j"
             R"j({{"name":"patient_id","type":"integer","value":{}}},)j"
             R"j({{"name":"doctor_id","type":"integer","value":{}}},)j"
             R"j({{"name":"upper_jaw_id","type":"integer","value":{}}},)j"
             R"j({{"name":"lower_jaw_id","type":"integer","value":{}}},)j"
             R"j({{"name":"status","type":"smallint","value":{}}},)j"
             R"j({{"name":"price","type":"numeric(12,2)","value":{}.{:02}}},)j"
             R"j({{"name":"notes","type":"text","value":"Patient {} prefers \"clear\" aligners.\nCheck the lower jaw scan before production."}},)j"
             R"j({{"name":"submitted_at","type":"timestamp without time zone","value":"2024-0{}-1{} 1{}:2{}:3{}.{}"}},)j"
             R"j({{"name":"created_at","type":"timestamp without time zone","value":"2024-0{}-0{} 08:00:00"}}]}})j",
             i + 1, 1 + i % 800, i % 7 == 0 ? std::string("null") : std::to_string(1 + i % 60),
             2 * i + 1, 2 * i + 2, i % 5, 1000 + i % 15000, i % 100, i + 1, 1 + i % 9, i % 10,
             i % 10, i % 10, i % 10, 100000 + i, 1 + i % 9, 1 + i % 9);
}

std::string notificationInsert(int i, std::uint64_t lsn) {
  return header("I", 5000 + i / 10, lsn, "dispatch_notification") +
         fmt::format(
             R"j("columns":[{{"name":"id","type":"bigint","value":{}}},)j"
             R"j({{"name":"recipient_id","type":"integer","value":{}}},)j"
             R"j({{"name":"template","type":"text","value":"order_status_changed"}},)j"
             R"j({{"name":"template_context","type":"text","value":"{{\"order_id\": {}, \"status\": \"shipped\", \"tracking\": \"1Z999AA1012345678{}\"}}"}},)j"
             R"j({{"name":"is_read","type":"smallint","value":{}}},)j"
             R"j({{"name":"created_at","type":"timestamp without time zone","value":"2024-05-0{} 12:34:56.{}"}}]}})j",
             14526741 + i, 1 + i % 400, i + 1, i % 10, i % 2, 1 + i % 9, 100000 + i);
}

std::string paymentInsert(int i, std::uint64_t lsn) {
  return header("I", 5000 + i / 10, lsn, "dispatch_payment") +
         fmt::format(
             R"j("columns":[{{"name":"id","type":"integer","value":{}}},)j"
             R"j({{"name":"instruction_id","type":"integer","value":{}}},)j"
             R"j({{"name":"amount","type":"numeric(12,2)","value":{}.{:02}}},)j"
             R"j({{"name":"method","type":"text","value":{}}},)j"
             R"j({{"name":"paid_at","type":"timestamp without time zone","value":"2024-06-1{} 10:00:00"}}]}})j",
             i + 1, 1 + i % 2000, 16040 + i % 1000, i % 100,
             i % 4 == 0 ? std::string("null") : std::string(R"j("card")j"), i % 10);
}

std::string instructionUpdate(int i, std::uint64_t lsn) {
  return header("U", 5000 + i / 10, lsn, "dispatch_instruction") +
         fmt::format(
             R"j("columns":[{{"name":"id","type":"integer","value":{}}},)j"
             R"j({{"name":"patient_id","type":"integer","value":{}}},)j"
             R"j({{"name":"doctor_id","type":"integer","value":{}}},)j"
             R"j({{"name":"upper_jaw_id","type":"integer","value":{}}},)j"
             R"j({{"name":"lower_jaw_id","type":"integer","value":{}}},)j"
             R"j({{"name":"status","type":"smallint","value":3}},)j"
             R"j({{"name":"price","type":"numeric(12,2)","value":16040.59}},)j"
             R"j({{"name":"submitted_at","type":"timestamp without time zone","value":"2024-03-01 12:00:00"}},)j"
             R"j({{"name":"created_at","type":"timestamp without time zone","value":"2024-02-01 08:00:00"}}],)j"
             R"j("identity":[{{"name":"id","type":"integer","value":{}}}]}})j",
             i + 1, 1 + i % 800, 1 + i % 60, 2 * i + 1, 2 * i + 2, i + 1);
}

// The messages above carry column types, as wal2json does by default; the corpus drops them
// when pgmorph's plugin options turn them off.
std::string asStreamed(std::string message) {
  static const bool withTypes = pgmorph::bench::streamHasTypes();
  if (withTypes) return message;
  constexpr std::string_view kType = R"("type":")";
  for (std::size_t at = message.find(kType); at != std::string::npos; at = message.find(kType, at))
    message.erase(at, message.find("\",", at + kType.size()) + 2 - at);
  return message;
}

// A corpus in the proportions of the dispatch sample data: mostly notifications, then
// orders, then payments.
std::vector<std::string> insertCorpus() {
  std::vector<std::string> out;
  std::uint64_t lsn = 0x16B374D848ULL;
  for (int i = 0; i < 4096; ++i) {
    lsn += 0x98;
    int pick = i % 10;
    if (pick < 6)
      out.push_back(asStreamed(notificationInsert(i, lsn)));
    else if (pick < 9)
      out.push_back(asStreamed(instructionInsert(i, lsn)));
    else
      out.push_back(asStreamed(paymentInsert(i, lsn)));
  }
  return out;
}

std::vector<std::string> updateCorpus() {
  std::vector<std::string> out;
  std::uint64_t lsn = 0x16B374D848ULL;
  for (int i = 0; i < 4096; ++i) out.push_back(asStreamed(instructionUpdate(i, lsn += 0x98)));
  return out;
}

// Refuses to time a decoder that gets the corpus wrong.
void checkCorpus(const std::vector<std::string>& corpus) {
  pgmorph::Wal2JsonDecoder decoder;
  pgmorph::Change change;
  for (const auto& m : corpus) {
    decoder.decode(m, pgmorph::Lsn(), change);
    if (change.columnCount() < 5 || change.table().empty() || change.commitTimeMicros == 0)
      throw std::runtime_error("benchmark corpus decoded wrongly: " + m);
  }
}

void runDecode(benchmark::State& state, const std::vector<std::string>& corpus) {
  checkCorpus(corpus);
  pgmorph::Wal2JsonDecoder decoder;
  pgmorph::Change change;
  std::size_t i = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& m = corpus[i];
    decoder.decode(m, pgmorph::Lsn(), change);
    benchmark::DoNotOptimize(change.columnCount());
    bytes += static_cast<std::int64_t>(m.size());
    if (++i == corpus.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_DecodeDispatchInserts(benchmark::State& state) {
  static const std::vector<std::string> corpus = insertCorpus();
  runDecode(state, corpus);
}

void BM_DecodeDispatchUpdates(benchmark::State& state) {
  static const std::vector<std::string> corpus = updateCorpus();
  runDecode(state, corpus);
}

}  // namespace

BENCHMARK(BM_DecodeDispatchInserts);
BENCHMARK(BM_DecodeDispatchUpdates);
