// TransformBench: Transformer::transform alone on one core, with the example's mapping
// (deploy/examples/dispatch/mapping.yaml, loaded by the real ConfigLoader), on Changes built
// the way the wal2json decoder fills them (names, types, exact number text, NULLs). No
// database, no decoding: that is DecodeBench's and PipelineBench's part.
//  - SampleInserts: the rows of sample-data.sql at scale 1 in its proportions (60%
//    notifications, 12% files, 8% jaws, ...), as a snapshot or a bulk load streams them;
//  - Updates: an OLTP-like mix of updates and deletes: order status changes with the TOASTed
//    notes left out, jaw swaps (partial targets), state moves between case/order targets
//    (fan-out), payment edits with a NULL method, notification reads, and order deletes.
// Every change of the corpus is transformed once before timing and the benchmark stops with
// an error if one fails or writes nothing. The batch is emptied every 5,000 writes, as the
// sink does. Items/s = source changes transformed per second.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cdc/model/Change.h"
#include "transform/ConfigLoader.h"
#include "transform/TargetWrite.h"
#include "transform/Transformer.h"

namespace {

using pgmorph::Change;
using pgmorph::ChangeKind;
using pgmorph::ValueKind;

const pgmorph::PipelineConfig& dispatchConfig() {
  static const pgmorph::PipelineConfig config = [] {
    const char* env = std::getenv("PGMORPH_SOURCE_DIR");
    std::filesystem::path root =
        env ? std::filesystem::path(env)
            : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
    std::filesystem::path path = root / "deploy/examples/dispatch/mapping.yaml";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path.string() + " (set PGMORPH_SOURCE_DIR)");
    std::string text(std::istreambuf_iterator<char>(in), {});
    return pgmorph::ConfigLoader::fromString(
        text, path.string(), [](std::string_view) -> std::optional<std::string> { return {}; });
  }();
  return config;
}

// Builds one Change as the decoder does: columns in table order, numbers as their text.
class ChangeBuilder {
 public:
  ChangeBuilder(ChangeKind kind, const char* table, std::uint64_t lsn) {
    c_.kind = kind;
    c_.lsn = pgmorph::Lsn(lsn);
    c_.setSchema("public");
    c_.setTable(table);
  }
  ChangeBuilder& num(const char* name, const std::string& v, const char* type = "integer") {
    c_.addColumn(name, type, v, ValueKind::Number);
    return *this;
  }
  ChangeBuilder& text(const char* name, const std::string& v, const char* type = "text") {
    c_.addColumn(name, type, v, ValueKind::String);
    return *this;
  }
  ChangeBuilder& ts(const char* name, const std::string& v) {
    return text(name, v, "timestamp without time zone");
  }
  ChangeBuilder& null(const char* name, const char* type = "integer") {
    c_.addColumn(name, type, "", ValueKind::Null);
    return *this;
  }
  ChangeBuilder& key(const std::string& id) {
    c_.addIdentity("id", "integer", id, ValueKind::Number);
    return *this;
  }
  Change done() { return std::move(c_); }

 private:
  Change c_;
};

std::string stamp(int i) {
  return fmt::format("2019-{:02}-{:02} {:02}:{:02}:{:02}", 1 + i % 12, 1 + i % 28, i % 24, i % 60,
                     (i * 7) % 60);
}

Change instruction(ChangeKind kind, int id, int upper, int lower, int status, bool notes,
                   std::uint64_t lsn) {
  ChangeBuilder b(kind, "dispatch_instruction", lsn);
  b.num("id", std::to_string(id)).num("patient_id", std::to_string(1 + id % 800));
  if (id % 19 == 0)
    b.null("doctor_id");
  else
    b.num("doctor_id", std::to_string(1 + id % 60));
  b.num("upper_jaw_id", std::to_string(upper)).num("lower_jaw_id", std::to_string(lower));
  b.num("status", std::to_string(status), "smallint");
  b.num("price", fmt::format("{}.{:02}", 100 + id % 5000, id % 100), "numeric(12,2)");
  if (notes) b.text("notes", fmt::format("note {}", id));
  if (id % 5 == 0)
    b.null("submitted_at", "timestamp without time zone");
  else
    b.ts("submitted_at", stamp(id));
  b.ts("created_at", stamp(id));
  if (kind == ChangeKind::Update) b.key(std::to_string(id));
  return b.done();
}

// sample-data.sql at scale 1: 20 offices, 400 users, 60 doctors, 800 patients, 2100 jaws,
// 1000 orders, 3000 files, 15000 notifications, 700 payments, 2000 states.
std::vector<Change> sampleInserts() {
  std::vector<Change> out;
  std::uint64_t lsn = 0x16B3748;
  auto next = [&] { return lsn += 0x100; };
  const auto I = ChangeKind::Insert;
  for (int g = 1; g <= 20; ++g)
    out.push_back(ChangeBuilder(I, "dispatch_office", next())
                      .num("id", std::to_string(g))
                      .text("name", fmt::format("Office {}", g))
                      .text("address", fmt::format("{} Main Street", g))
                      .text("country", "US", "character(2)")
                      .ts("created_at", stamp(g))
                      .done());
  for (int g = 1; g <= 400; ++g) {
    ChangeBuilder b(I, "dispatch_user", next());
    b.num("id", std::to_string(g))
        .text("email", fmt::format("user{}@example.com", g))
        .text("first_name", fmt::format("First{}", g))
        .text("last_name", fmt::format("Last{}", g));
    if (g % 17 == 0)
      b.null("office_id");
    else
      b.num("office_id", std::to_string(1 + g % 20));
    b.num("is_active", g % 9 == 0 ? "0" : "1", "smallint").ts("date_joined", stamp(g));
    out.push_back(b.done());
  }
  for (int g = 1; g <= 60; ++g)
    out.push_back(ChangeBuilder(I, "dispatch_doctor", next())
                      .num("id", std::to_string(g))
                      .num("user_id", std::to_string(g))
                      .num("office_id", std::to_string(1 + g % 20))
                      .text("license_no", fmt::format("LIC-{:06}", g))
                      .done());
  for (int g = 1; g <= 800; ++g)
    out.push_back(ChangeBuilder(I, "dispatch_patient", next())
                      .num("id", std::to_string(g))
                      .num("doctor_id", std::to_string(1 + g % 60))
                      .num("office_id", std::to_string(1 + g % 20))
                      .text("first_name", fmt::format("Pat{}", g))
                      .text("last_name", fmt::format("Ient{}", g))
                      .text("birth_date", "1975-03-14", "date")
                      .text("suffix", "AB12", "character(4)")
                      .done());
  for (int g = 1; g <= 2100; ++g)
    out.push_back(ChangeBuilder(I, "dispatch_jaw", next())
                      .num("id", std::to_string(g))
                      .text("scan_file", fmt::format("scan_{}.stl", g))
                      .ts("created_at", stamp(g))
                      .done());
  for (int g = 1; g <= 1000; ++g)
    out.push_back(instruction(I, g, 2 * g - 1, 2 * g, g % 5, true, next()));
  for (int g = 1; g <= 3000; ++g)
    out.push_back(ChangeBuilder(I, "dispatch_file", next())
                      .num("id", std::to_string(g))
                      .num("instruction_id", std::to_string(1 + g % 1000))
                      .text("name", fmt::format("{}_shell_occlusion.stl", g))
                      .num("size", std::to_string(1000 + (g * 104729) % 9000000), "bigint")
                      .ts("created_at", stamp(g))
                      .done());
  for (int g = 1; g <= 15000; ++g)
    out.push_back(
        ChangeBuilder(I, "dispatch_notification", next())
            .num("id", std::to_string(g), "bigint")
            .num("recipient_id", std::to_string(1 + g % 400))
            .text("template", "order_shipped")
            .text("template_context",
                  fmt::format(R"({{"order": {}, "by": "user{}", "tags": ["a", "b"]}})", g, g % 400))
            .num("is_read", std::to_string(g % 3 == 0), "smallint")
            .ts("created_at", stamp(g))
            .done());
  for (int g = 1; g <= 700; ++g) {
    ChangeBuilder b(I, "dispatch_payment", next());
    b.num("id", std::to_string(g))
        .num("instruction_id", std::to_string(1 + g % 1000))
        .num("amount", fmt::format("{}.{:02}", 50 + g % 3000, g % 100), "numeric(12,2)");
    if (g % 4 == 0)
      b.null("method", "text");
    else
      b.text("method", "card");
    b.ts("paid_at", stamp(g));
    out.push_back(b.done());
  }
  for (int g = 1; g <= 2000; ++g) {
    ChangeBuilder b(I, "dispatch_state", next());
    b.num("id", std::to_string(g)).text("kind", g % 2 == 0 ? "case" : "order");
    if (g % 2 == 0)
      b.num("patient_id", std::to_string(1 + g % 800)).null("instruction_id");
    else
      b.null("patient_id").num("instruction_id", std::to_string(1 + g % 1000));
    b.text("state", "in_review").ts("changed_at", stamp(g));
    out.push_back(b.done());
  }
  return out;
}

std::vector<Change> updateMix() {
  std::vector<Change> out;
  std::uint64_t lsn = 0x26B3748;
  auto next = [&] { return lsn += 0x100; };
  const auto U = ChangeKind::Update;
  for (int i = 1; i <= 5000; ++i) {
    int order = 1 + i % 1000;
    switch (i % 10) {
      case 0:
      case 1:
      case 2:  // status change; notes TOASTed and unchanged: left out
        out.push_back(instruction(U, order, 2 * order - 1, 2 * order, i % 5, false, next()));
        break;
      case 3:  // jaw swap
        out.push_back(instruction(U, order, 2 * order, 2 * order - 1, i % 5, true, next()));
        break;
      case 4:
      case 5: {  // state moves between case_states and order_states
        ChangeBuilder b(U, "dispatch_state", next());
        b.num("id", std::to_string(i)).text("kind", i % 4 < 2 ? "case" : "order");
        b.num("patient_id", std::to_string(1 + i % 800))
            .num("instruction_id", std::to_string(order))
            .text("state", "approved")
            .ts("changed_at", stamp(i))
            .key(std::to_string(i));
        out.push_back(b.done());
        break;
      }
      case 6:
        out.push_back(ChangeBuilder(U, "dispatch_payment", next())
                          .num("id", std::to_string(i))
                          .num("instruction_id", std::to_string(order))
                          .num("amount", "129.95", "numeric(12,2)")
                          .null("method", "text")
                          .ts("paid_at", stamp(i))
                          .key(std::to_string(i))
                          .done());
        break;
      case 7:
      case 8:
        out.push_back(ChangeBuilder(U, "dispatch_notification", next())
                          .num("id", std::to_string(i), "bigint")
                          .num("recipient_id", std::to_string(1 + i % 400))
                          .text("template", "order_shipped")
                          .text("template_context", R"({"order": 1})")
                          .num("is_read", "1", "smallint")
                          .ts("created_at", stamp(i))
                          .key(std::to_string(i))
                          .done());
        break;
      default: {
        Change d = ChangeBuilder(ChangeKind::Delete, "dispatch_instruction", next())
                       .key(std::to_string(order))
                       .done();
        out.push_back(std::move(d));
        break;
      }
    }
  }
  return out;
}

constexpr std::size_t kBatchWrites = 5000;

// Transforms the corpus once; "" when every change is written with at least one write.
std::string check(const std::vector<Change>& corpus) {
  pgmorph::Transformer tf(dispatchConfig());
  pgmorph::WriteBatch batch;
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    batch.clear();
    auto outcome = tf.transform(corpus[i], batch);
    if (outcome.status != pgmorph::TransformOutcome::Status::Written || batch.empty())
      return fmt::format("change {} ({} {}) was not written: {}", i,
                         pgmorph::toString(corpus[i].kind), corpus[i].table(), outcome.problem);
  }
  return "";
}

void run(benchmark::State& state, const std::vector<Change>& corpus) {
  if (std::string problem = check(corpus); !problem.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  pgmorph::Transformer tf(dispatchConfig());
  pgmorph::WriteBatch batch;
  std::size_t writes = 0;
  for (auto _ : state) {
    for (const Change& c : corpus) {
      tf.transform(c, batch);
      if (batch.size() >= kBatchWrites) {
        writes += batch.size();
        batch.clear();
      }
    }
    benchmark::DoNotOptimize(batch.writes().data());
  }
  writes += batch.size();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * corpus.size()));
  state.counters["writes/change"] =
      static_cast<double>(writes) / static_cast<double>(state.iterations() * corpus.size());
}

void BM_Transform_SampleInserts(benchmark::State& state) {
  static const std::vector<Change> corpus = sampleInserts();
  run(state, corpus);
}

void BM_Transform_Updates(benchmark::State& state) {
  static const std::vector<Change> corpus = updateMix();
  run(state, corpus);
}

}  // namespace

BENCHMARK(BM_Transform_SampleInserts)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Transform_Updates)->Unit(benchmark::kMillisecond);
