// PipelineBench: decode + transform on one core, the CPU work pgmorph does per source change
// between the socket and the sink — wal2json format-version 2 text in, TargetWrites out, with
// the example's mapping (deploy/examples/dispatch/mapping.yaml) loaded by the real loader.
// Goal (ARCHITECTURE.md, issue 4): well over 1,000,000 changes/s.
//
// The input is generated here, in the exact shape of a real server's output with pgmorph's
// plugin options (format-version 2, include-xids/timestamp/lsn, types only if the options ask
// for them; shape checked against pg_logical_slot_peek_changes of wal2json 2.5 on
// PostgreSQL 15), so the benchmark needs no database and no data file:
//  - SampleInserts: the rows of sample-data.sql (scale 1, clean), table by table in its
//    proportions (60% notifications, 12% files, ...), as a snapshot or bulk load streams them;
//  - OltpMix: the transactions of tests/workload/oltp.sql in its weights (new orders with jaws
//    and files, status changes, jaw swaps, notes with TOASTed values left out, notifications,
//    payments, patient and e-mail edits, fan-out moves between case/order states, purges), with
//    their B and C messages: those are decoded and timed, but only row changes are counted.
// Before timing, every message of the corpus is decoded and transformed once and the benchmark
// stops with an error if any change fails or produces no write: a fast wrong answer is not
// measured. Items/s = source row changes per second.
//
// Decode-only and transform-only variants of both show where the time goes.
//
// Over 400 lines on purpose: most of it is the two corpus generators, which must stay beside
// the benchmarks that check and time them.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/Wal2JsonDecoder.h"
#include "cdc/model/Change.h"
#include "tests/bench/StreamShape.h"
#include "transform/ConfigLoader.h"
#include "transform/TargetWrite.h"
#include "transform/Transformer.h"

#ifndef PGMORPH_SOURCE_DIR_DEFAULT
#define PGMORPH_SOURCE_DIR_DEFAULT "."
#endif

namespace {

using pgmorph::Change;
using pgmorph::ChangeKind;
using pgmorph::Lsn;

// ---------------------------------------------------------------------------------------------
// wal2json v2 message text

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Builds one wal2json format-version 2 object, field order as wal2json writes them.
class Message {
 public:
  Message(char action, std::uint32_t xid, std::uint64_t lsn, std::string_view table) {
    text_ = fmt::format(
        R"({{"action":"{}","xid":{},"timestamp":"2026-11-21 18:23:57.087448+00","lsn":"{:X}/{:X}",)"
        R"("schema":"public","table":"{}")",
        action, xid, lsn >> 32, lsn & 0xffffffffu, table);
  }
  Message& columns() { return open("columns"); }
  Message& identity() { return open("identity"); }
  Message& num(std::string_view name, std::string_view type, std::int64_t v) {
    return raw(name, type, std::to_string(v));
  }
  Message& number(std::string_view name, std::string_view type, std::string_view v) {
    return raw(name, type, v);
  }
  Message& text(std::string_view name, std::string_view type, std::string_view v) {
    return raw(name, type, "\"" + jsonEscape(v) + "\"");
  }
  Message& null(std::string_view name, std::string_view type) { return raw(name, type, "null"); }
  Message& optNum(std::string_view name, std::string_view type, std::optional<std::int64_t> v) {
    return v ? num(name, type, *v) : null(name, type);
  }
  Message& optText(std::string_view name, std::string_view type,
                   const std::optional<std::string>& v) {
    return v ? text(name, type, *v) : null(name, type);
  }
  std::string done() {
    if (inTuple_) text_ += ']';
    text_ += '}';
    return std::move(text_);
  }

 private:
  Message& open(const char* tuple) {
    if (inTuple_) text_ += ']';
    text_ += fmt::format(R"(,"{}":[)", tuple);
    inTuple_ = true;
    first_ = true;
    return *this;
  }
  Message& raw(std::string_view name, std::string_view type, std::string_view value) {
    if (!first_) text_ += ',';
    first_ = false;
    static const bool withTypes = pgmorph::bench::streamHasTypes();
    if (withTypes)
      text_ += fmt::format(R"({{"name":"{}","type":"{}","value":{}}})", name, type, value);
    else
      text_ += fmt::format(R"({{"name":"{}","value":{}}})", name, value);
    return *this;
  }
  std::string text_;
  bool inTuple_ = false;
  bool first_ = true;
};

constexpr std::string_view kInt = "integer";
constexpr std::string_view kBig = "bigint";
constexpr std::string_view kSmall = "smallint";
constexpr std::string_view kText = "text";
constexpr std::string_view kTs = "timestamp without time zone";
constexpr std::string_view kNumeric = "numeric(12,2)";

std::string timestampOf(std::int64_t g, int baseYear) {
  return fmt::format("{}-{:02}-{:02} {:02}:{:02}:00", baseYear + g % 5, 1 + g % 12, 1 + g % 28,
                     g % 24, g % 60);
}
std::string priceOf(std::int64_t g) {
  return fmt::format("{}.{:02}", 33 + g % 1700, g % 100);
}
std::string notesOf(std::int64_t g) {
  if (g % 10 != 0) return fmt::format("note {}", g);
  std::string s;  // > 2 kB: TOASTed on the source, left out of updates that do not touch it
  for (int i = 0; i < 150; ++i) s += fmt::format("Long clinical note {}. ", g);
  return s;
}
std::string contextOf(std::int64_t g) {
  return fmt::format(R"({{"order": {}, "by": "user{}", "tags": ["a", "b"]}})", g, g % 400);
}
const char* const kTemplates[] = {"order_shipped", "payment_received", "comment_added",
                                  "state_changed"};
const char* const kStates[] = {"new", "in_review", "approved", "closed"};

// One corpus: messages to decode in order, and how many of them are row changes.
struct Corpus {
  std::vector<std::string> messages;
  std::size_t rowChanges = 0;
  std::uint32_t xid = 1000;
  std::uint64_t lsn = 0x1A000000;

  Message row(char action, std::string_view table) {
    ++rowChanges;
    lsn += 0x98;
    return Message(action, xid, lsn, table);
  }
  void add(Message m) { messages.push_back(m.done()); }
  void boundary(char action) {
    lsn += 0x30;
    messages.push_back(fmt::format(
        R"({{"action":"{}","xid":{},"timestamp":"2026-11-21 18:23:57.087448+00","lsn":"{:X}/{:X}","nextlsn":"{:X}/{:X}"}})",
        action, xid, lsn >> 32, lsn & 0xffffffffu, (lsn + 0x30) >> 32, (lsn + 0x30) & 0xffffffffu));
  }
  void beginTx() { boundary('B'); }
  void commitTx() {
    boundary('C');
    ++xid;
  }
};

// Row builders, values as sample-data.sql and oltp.sql make them.
Message instruction(Corpus& c, char action, std::int64_t g, std::int64_t upper, std::int64_t lower,
                    std::int64_t status, bool withNotes) {
  Message m = c.row(action, "dispatch_instruction");
  m.columns()
      .num("id", kInt, g)
      .num("patient_id", kInt, 1 + g % 800)
      .optNum("doctor_id", kInt,
              g % 19 == 0 ? std::nullopt : std::optional<std::int64_t>(1 + g % 60))
      .num("upper_jaw_id", kInt, upper)
      .num("lower_jaw_id", kInt, lower)
      .num("status", kSmall, status)
      .number("price", kNumeric, priceOf(g));
  if (withNotes) m.text("notes", kText, notesOf(g));
  m.optText("submitted_at", kTs, g % 5 == 0 ? std::nullopt : std::optional(timestampOf(g, 2019)))
      .text("created_at", kTs, timestampOf(g, 2019));
  if (action == 'U') m.identity().num("id", kInt, g);
  return m;
}
Message notification(Corpus& c, char action, std::int64_t g, int isRead) {
  Message m = c.row(action, "dispatch_notification");
  m.columns()
      .num("id", kBig, g)
      .num("recipient_id", kInt, 1 + g % 400)
      .text("template", kText, kTemplates[g % 4])
      .text("template_context", kText, contextOf(g))
      .num("is_read", kSmall, isRead)
      .text("created_at", kTs, timestampOf(g, 2020));
  if (action == 'U') m.identity().num("id", kBig, g);
  return m;
}
Message file(Corpus& c, std::int64_t g, std::int64_t instructionId) {
  Message m = c.row('I', "dispatch_file");
  m.columns()
      .num("id", kInt, g)
      .num("instruction_id", kInt, instructionId)
      .text("name", kText, fmt::format("{}_shell_occlusion.stl", g))
      .num("size", kBig, 1000 + (g * 104729) % 9000000)
      .text("created_at", kTs, timestampOf(g, 2019));
  return m;
}
Message payment(Corpus& c, std::int64_t g, std::int64_t instructionId) {
  static const char* const methods[] = {"card", "wire", "check"};
  Message m = c.row('I', "dispatch_payment");
  m.columns()
      .num("id", kInt, g)
      .num("instruction_id", kInt, instructionId)
      .number("amount", kNumeric, priceOf(g * 7))
      .optText("method", kText,
               g % 4 == 0 ? std::nullopt : std::optional<std::string>(methods[g % 3]))
      .text("paid_at", kTs, timestampOf(g, 2019));
  return m;
}
Message state(Corpus& c, char action, std::int64_t g, bool isCase, std::int64_t instructionId) {
  Message m = c.row(action, "dispatch_state");
  m.columns()
      .num("id", kInt, g)
      .text("kind", kText, isCase ? "case" : "order")
      .optNum("patient_id", kInt,
              isCase || action == 'U' ? std::optional<std::int64_t>(1 + g % 800) : std::nullopt)
      .optNum("instruction_id", kInt,
              !isCase || action == 'U' ? std::optional(instructionId) : std::nullopt)
      .text("state", kText, kStates[g % 4])
      .text("changed_at", kTs, timestampOf(g, 2019));
  if (action == 'U') m.identity().num("id", kInt, g);
  return m;
}
Message jaw(Corpus& c, std::int64_t g) {
  Message m = c.row('I', "dispatch_jaw");
  m.columns()
      .num("id", kInt, g)
      .text("scan_file", kText, fmt::format("scan_{}.stl", g))
      .text("created_at", kTs, timestampOf(g, 2018));
  return m;
}
Message patient(Corpus& c, char action, std::int64_t g) {
  Message m = c.row(action, "dispatch_patient");
  m.columns()
      .num("id", kInt, g)
      .num("doctor_id", kInt, 1 + g % 60)
      .optNum("office_id", kInt,
              g % 13 == 0 ? std::nullopt : std::optional<std::int64_t>(1 + g % 20))
      .text("first_name", kText, fmt::format("Pat{}", g))
      .text("last_name", kText, fmt::format("Ient{}", g))
      .text("birth_date", "date",
            fmt::format("19{}-{:02}-{:02}", 60 + g % 40, 1 + g % 12, 1 + g % 28))
      .optText("suffix", "character(4)",
               g % 7 == 0 ? std::nullopt
                          : std::optional(fmt::format("{:04X}", (g * 2654435761u) & 0xffff)));
  if (action == 'U') m.identity().num("id", kInt, g);
  return m;
}
Message user(Corpus& c, char action, std::int64_t g) {
  Message m = c.row(action, "dispatch_user");
  m.columns()
      .num("id", kInt, g)
      .text("email", kText, fmt::format("user{}@example.com", g))
      .text("first_name", kText, fmt::format("First{}", g))
      .text("last_name", kText, fmt::format("Last{}", g))
      .optNum("office_id", kInt,
              g % 17 == 0 ? std::nullopt : std::optional<std::int64_t>(1 + g % 20))
      .num("is_active", kSmall, g % 9 == 0 ? 0 : 1)
      .text("date_joined", kTs, timestampOf(g, 2016));
  if (action == 'U') m.identity().num("id", kInt, g);
  return m;
}
Message deletion(Corpus& c, std::string_view table, std::int64_t id) {
  Message m = c.row('D', table);
  m.identity().num("id", kInt, id);
  return m;
}

// sample-data.sql at scale 1, clean: one source transaction per table, as psql loads it.
Corpus sampleInserts() {
  static const char* const countries[] = {"US", "JP", "TH", "IN", "AU"};
  Corpus c;
  auto table = [&](int rows, auto&& make) {
    c.beginTx();
    for (std::int64_t g = 1; g <= rows; ++g) c.add(make(g));
    c.commitTx();
  };
  table(20, [&](std::int64_t g) {
    Message m = c.row('I', "dispatch_office");
    m.columns()
        .num("id", kInt, g)
        .text("name", kText, fmt::format("Office {}", g))
        .text("address", kText, fmt::format("{} Main Street", g))
        .text("country", "character(2)", countries[g % 5])
        .text("created_at", kTs, timestampOf(g, 2015));
    return m;
  });
  table(400, [&](std::int64_t g) { return user(c, 'I', g); });
  table(60, [&](std::int64_t g) {
    Message m = c.row('I', "dispatch_doctor");
    m.columns()
        .num("id", kInt, g)
        .num("user_id", kInt, g)
        .optNum("office_id", kInt,
                g % 11 == 0 ? std::nullopt : std::optional<std::int64_t>(1 + g % 20))
        .text("license_no", kText, fmt::format("LIC-{:06}", g));
    return m;
  });
  table(800, [&](std::int64_t g) { return patient(c, 'I', g); });
  table(2100, [&](std::int64_t g) { return jaw(c, g); });
  table(1000,
        [&](std::int64_t g) { return instruction(c, 'I', g, 2 * g - 1, 2 * g, g % 5, true); });
  table(3000, [&](std::int64_t g) { return file(c, g, 1 + g % 1000); });
  table(15000, [&](std::int64_t g) { return notification(c, 'I', g, g % 3 == 0); });
  table(700, [&](std::int64_t g) { return payment(c, g, 1 + g % 1000); });
  table(2000, [&](std::int64_t g) { return state(c, 'I', g, g % 2 == 0, 1 + g % 1000); });
  return c;
}

// tests/workload/oltp.sql: `transactions` transactions drawn with its weights (deterministic).
Corpus oltpMix(int transactions) {
  Corpus c;
  std::uint64_t seed = 42;
  auto rnd = [&](std::int64_t lo, std::int64_t hi) {  // xorshift: reproducible, no <random> cost
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return lo + static_cast<std::int64_t>(seed % static_cast<std::uint64_t>(hi - lo + 1));
  };
  std::int64_t nextJaw = 2101, nextInstruction = 1001, nextFile = 3001, nextNotification = 15001,
               nextPayment = 701, nextState = 2001, oldestWorkload = 1001;
  for (int t = 0; t < transactions; ++t) {
    int op = static_cast<int>(rnd(1, 100));
    c.beginTx();
    if (op <= 10) {  // new order
      std::int64_t upper = nextJaw++, lower = nextJaw++, g = nextInstruction++;
      c.add(jaw(c, upper));
      c.add(jaw(c, lower));
      c.add(instruction(c, 'I', g, upper, lower, 0, true));
      c.add(file(c, nextFile++, g));
      c.add(file(c, nextFile++, g));
      c.add(state(c, 'I', nextState++, false, g));
      if (rnd(0, 1) == 0) c.add(payment(c, nextPayment++, g));
    } else if (op <= 28) {  // status change: unchanged TOASTed notes are left out
      std::int64_t g = rnd(1, nextInstruction - 1);
      c.add(instruction(c, 'U', g, 2 * g - 1, 2 * g, rnd(0, 4), g % 10 != 0));
    } else if (op <= 34) {  // jaws swapped
      std::int64_t g = rnd(1, nextInstruction - 1);
      c.add(instruction(c, 'U', g, 2 * g, 2 * g - 1, g % 5, g % 10 != 0));
    } else if (op <= 37) {  // notes rewritten
      std::int64_t g = rnd(1, nextInstruction - 1);
      c.add(instruction(c, 'U', g, 2 * g - 1, 2 * g, g % 5, true));
    } else if (op <= 51) {
      c.add(notification(c, 'I', nextNotification++, 0));
    } else if (op <= 56) {
      c.add(notification(c, 'U', rnd(1, nextNotification - 1), 1));
    } else if (op <= 63) {
      c.add(payment(c, nextPayment++, rnd(1, 1000)));
    } else if (op <= 70) {
      c.add(patient(c, 'U', rnd(1, 800)));
    } else if (op <= 74) {
      c.add(file(c, nextFile++, rnd(1, 1000)));
    } else if (op <= 78) {
      c.add(deletion(c, "dispatch_file", rnd(1, nextFile - 1)));
    } else if (op <= 85) {
      c.add(state(c, 'I', nextState++, rnd(0, 1) == 0, rnd(1, 1000)));
    } else if (op <= 90) {  // a state moves between case and order: fan-out delete + upsert
      c.add(state(c, 'U', rnd(1, nextState - 1), rnd(0, 1) == 0, rnd(1, 1000)));
    } else if (op <= 94) {  // the oldest workload order purged, children first
      std::int64_t victim = oldestWorkload < nextInstruction ? oldestWorkload++ : 1;
      c.add(deletion(c, "dispatch_state", rnd(1, nextState - 1)));
      c.add(deletion(c, "dispatch_payment", rnd(1, nextPayment - 1)));
      c.add(deletion(c, "dispatch_file", rnd(1, nextFile - 1)));
      c.add(deletion(c, "dispatch_file", rnd(1, nextFile - 1)));
      c.add(deletion(c, "dispatch_instruction", victim));
    } else {
      c.add(user(c, 'U', rnd(1, 400)));
    }
    c.commitTx();
  }
  return c;
}

// ---------------------------------------------------------------------------------------------

std::string sourceDir() {
  const char* env = std::getenv("PGMORPH_SOURCE_DIR");
  return env && *env ? env : PGMORPH_SOURCE_DIR_DEFAULT;
}

const pgmorph::PipelineConfig& exampleConfig() {
  static const pgmorph::PipelineConfig config = [] {
    std::string path = sourceDir() + "/deploy/examples/dispatch/mapping.yaml";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path + " (set PGMORPH_SOURCE_DIR)");
    std::string text(std::istreambuf_iterator<char>(in), {});
    return pgmorph::ConfigLoader::fromString(
        text, path, [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  }();
  return config;
}

// The batch is emptied as the sink would after writing a chunk of this many writes.
constexpr std::size_t kBatchWrites = 5000;

// Decodes and transforms the whole corpus once; returns an error message, or "" when every
// row change transformed into at least one write.
std::string validate(const Corpus& corpus) {
  pgmorph::Wal2JsonDecoder decoder;
  pgmorph::Transformer transformer(exampleConfig());
  pgmorph::WriteBatch batch;
  Change change;
  for (std::size_t i = 0; i < corpus.messages.size(); ++i) {
    try {
      decoder.decode(corpus.messages[i], Lsn(i), change);
    } catch (const std::exception& e) {
      return fmt::format("message {} does not decode: {}", i, e.what());
    }
    std::size_t before = batch.size();
    auto outcome = transformer.transform(change, batch);
    bool rowChange = change.kind == ChangeKind::Insert || change.kind == ChangeKind::Update ||
                     change.kind == ChangeKind::Delete;
    if (rowChange && outcome.status != pgmorph::TransformOutcome::Status::Written)
      return fmt::format("message {} ({} on {}) was not transformed: {}", i,
                         pgmorph::toString(change.kind), change.table(),
                         outcome.problem.empty() ? "no write" : outcome.problem);
    if (rowChange && batch.size() == before) return fmt::format("message {} produced no write", i);
    if (batch.size() >= kBatchWrites) batch.clear();
  }
  return "";
}

const Corpus& sampleCorpus() {
  static const Corpus corpus = sampleInserts();
  return corpus;
}
const Corpus& oltpCorpus() {
  static const Corpus corpus = oltpMix(20000);
  return corpus;
}

void runPipeline(benchmark::State& state, const Corpus& corpus) {
  if (std::string problem = validate(corpus); !problem.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  pgmorph::Wal2JsonDecoder decoder;
  pgmorph::Transformer transformer(exampleConfig());
  pgmorph::WriteBatch batch;
  Change change;
  const auto& messages = corpus.messages;
  std::size_t passes = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < messages.size(); ++i) {
      decoder.decode(messages[i], Lsn(i), change);
      transformer.transform(change, batch);
      if (batch.size() >= kBatchWrites) batch.clear();
    }
    benchmark::DoNotOptimize(batch.size());
    ++passes;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(passes * corpus.rowChanges));
}

void BM_Pipeline_SampleInserts(benchmark::State& state) {
  runPipeline(state, sampleCorpus());
}
void BM_Pipeline_OltpMix(benchmark::State& state) {
  runPipeline(state, oltpCorpus());
}

// Breakdowns: decoding alone, and transforming already decoded changes.
void decodeOnly(benchmark::State& state, const Corpus& corpus) {
  pgmorph::Wal2JsonDecoder decoder;
  Change change;
  std::size_t passes = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < corpus.messages.size(); ++i)
      decoder.decode(corpus.messages[i], Lsn(i), change);
    benchmark::DoNotOptimize(change.columnCount());
    ++passes;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(passes * corpus.rowChanges));
}

void transformOnly(benchmark::State& state, const Corpus& corpus) {
  if (std::string problem = validate(corpus); !problem.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  std::vector<Change> changes(corpus.messages.size());
  pgmorph::Wal2JsonDecoder decoder;
  for (std::size_t i = 0; i < corpus.messages.size(); ++i)
    decoder.decode(corpus.messages[i], Lsn(i), changes[i]);
  pgmorph::Transformer transformer(exampleConfig());
  pgmorph::WriteBatch batch;
  std::size_t passes = 0;
  for (auto _ : state) {
    for (const Change& change : changes) {
      transformer.transform(change, batch);
      if (batch.size() >= kBatchWrites) batch.clear();
    }
    benchmark::DoNotOptimize(batch.size());
    ++passes;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(passes * corpus.rowChanges));
}

void BM_PipelineDecodeOnly_SampleInserts(benchmark::State& state) {
  decodeOnly(state, sampleCorpus());
}
void BM_PipelineTransformOnly_SampleInserts(benchmark::State& state) {
  transformOnly(state, sampleCorpus());
}
void BM_PipelineDecodeOnly_OltpMix(benchmark::State& state) {
  decodeOnly(state, oltpCorpus());
}
void BM_PipelineTransformOnly_OltpMix(benchmark::State& state) {
  transformOnly(state, oltpCorpus());
}

}  // namespace

BENCHMARK(BM_Pipeline_SampleInserts)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Pipeline_OltpMix)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineDecodeOnly_SampleInserts)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineTransformOnly_SampleInserts)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineDecodeOnly_OltpMix)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PipelineTransformOnly_OltpMix)->Unit(benchmark::kMillisecond);
