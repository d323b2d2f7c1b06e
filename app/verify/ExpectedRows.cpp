#include "app/verify/ExpectedRows.h"

#include <fmt/format.h>

#include <algorithm>

#include "cdc/model/Errors.h"
#include "sink/CopyWriter.h"
#include "transform/IdMapper.h"

namespace pgmorph {

namespace {

constexpr std::size_t kSamples = 5;
constexpr const char* kStaging = "pgmorph_verify_stage";

// Thrown between rows when the command was asked to stop (SIGINT).
struct Interrupted : PgmorphError {
  Interrupted() : PgmorphError(ErrorClass::Operator, "verify interrupted") {}
};

}  // namespace

ExpectedRows::ExpectedRows(PgConnection& target, SnapshotReader& source, Transformer& transformer,
                           std::function<bool()> stopped)
    : target_(target), source_(source), transformer_(transformer), stopped_(std::move(stopped)) {
  target_.exec(fmt::format("CREATE TEMPORARY TABLE IF NOT EXISTS {} (id uuid PRIMARY KEY)",
                           target_.quoteIdent(kUnconvertibleIds)));
}

std::vector<std::string> ExpectedRows::comparedColumns(
    const TargetTable& table, const std::vector<ExpectedSource>& upserts,
    const std::vector<ExpectedSource>& partials) const {
  // Only what the mapping writes is compared: a target column nothing feeds (a default, a
  // column the new application fills) says nothing about the migration. Generated columns are
  // never written.
  std::vector<std::string> out;
  auto add = [&](const std::string& column) {
    const TargetColumn* c = table.find(column);
    if (c && c->generated) return;
    if (std::find(out.begin(), out.end(), column) == out.end()) out.push_back(column);
  };
  const WritePlan& first = upserts.empty() ? *partials.front().plan : *upserts.front().plan;
  add(first.idColumn);
  for (const auto& s : upserts)
    for (const auto& c : s.plan->columns) add(c);
  for (const auto& s : partials)
    for (const auto& c : s.plan->columns) add(c);
  return out;
}

ExpectedTable ExpectedRows::build(const TargetTable& table, const std::string& name,
                                  const std::vector<ExpectedSource>& upserts,
                                  const std::vector<ExpectedSource>& partials) {
  ExpectedTable out;
  out.name = name;
  out.columns = comparedColumns(table, upserts, partials);
  std::string select;
  for (const auto& c : out.columns) select += (select.empty() ? "" : ", ") + target_.quoteIdent(c);
  const std::string qname = target_.quoteIdent(name);
  const std::string qtarget = target_.quoteQualified(table.schema, table.name);
  if (!upserts.empty()) {
    // CREATE TABLE AS copies the target's column types without its constraints.
    target_.exec(fmt::format(
        "CREATE TEMPORARY TABLE {} AS SELECT {}, NULL::text AS {}, NULL::integer AS {} FROM {} "
        "WITH NO DATA",
        qname, select, target_.quoteIdent(kLegacyKeyColumn), target_.quoteIdent(kPlanColumn),
        qtarget));
  } else {
    // Only partial targets write this table: its rows are somebody else's, the mapped
    // columns are what the partial plans set on them (NULL where none does).
    std::string cleared;
    for (std::size_t i = 1; i < out.columns.size(); ++i)
      cleared += fmt::format("{}{} = NULL", cleared.empty() ? "" : ", ",
                             target_.quoteIdent(out.columns[i]));
    target_.exec(fmt::format(
        "CREATE TEMPORARY TABLE {} AS SELECT {}, NULL::text AS {}, NULL::integer AS {} FROM {}",
        qname, select, target_.quoteIdent(kLegacyKeyColumn), target_.quoteIdent(kPlanColumn),
        qtarget));
    if (!cleared.empty()) target_.exec(fmt::format("UPDATE {} SET {}", qname, cleared));
  }
  for (std::size_t i = 0; i < upserts.size(); ++i) {
    out.upserts.push_back(upserts[i].plan);
    copyUpserts(table, upserts[i], static_cast<int>(i), out);
  }
  for (const auto& p : partials) applyPartial(table, p, out);
  // The comparison hash-joins on the id; ANALYZE gives the planner the row count it needs to
  // choose that (a temporary table has no statistics otherwise).
  target_.exec(fmt::format("ANALYZE {}", qname));
  return out;
}

void ExpectedRows::drop(const ExpectedTable& expected) {
  target_.exec(fmt::format("DROP TABLE IF EXISTS {}", target_.quoteIdent(expected.name)));
}

template <class Write>
void ExpectedRows::stream(const ExpectedSource& source, WriteOp op, ExpectedTable& out,
                          Write&& write) {
  source_.start(source.read);
  std::uint64_t rows = 0;
  while (source_.next(change_)) {
    batch_.clear();
    TransformOutcome outcome = transformer_.transformWithPolicy(change_, batch_);
    if (outcome.status == TransformOutcome::Status::Failed) {
      noteUnconvertible(source, change_, outcome.problem, out);
      continue;
    }
    for (const TargetWrite& w : batch_.writes())
      if (w.plan == source.plan && w.op == op) write(w);
    if (++rows % 1024 == 0 && stopped_()) throw Interrupted();
  }
}

void ExpectedRows::copyUpserts(const TargetTable& table, const ExpectedSource& source,
                               int planIndex, ExpectedTable& out) {
  const std::string qname = target_.quoteIdent(out.name);
  // Which plan wrote a row, for the report: a column default, so the COPY does not carry it.
  // planIndex is our own small integer, not user text.
  target_.exec(fmt::format("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}", qname,
                           target_.quoteIdent(kPlanColumn), planIndex));
  CopyWriter writer =
      CopyWriter::forStaging(target_, *source.plan, table, out.name, WriteOp::Upsert);
  writer.begin();
  try {
    stream(source, WriteOp::Upsert, out, [&](const TargetWrite& w) { writer.write(w); });
  } catch (...) {
    writer.abort();
    throw;
  }
  writer.finish();
  flushUnconvertible();
}

void ExpectedRows::applyPartial(const TargetTable& table, const ExpectedSource& source,
                                ExpectedTable& out) {
  CopyWriter writer = CopyWriter::forStaging(target_, *source.plan, table, kStaging);
  const auto& cols = writer.columns();  // id, set columns..., legacy key
  std::string select;
  for (std::size_t i = 0; i + 1 < cols.size(); ++i)
    select += (i ? ", " : "") + target_.quoteIdent(cols[i]);
  const std::string stage = target_.quoteIdent(kStaging);
  const std::string qname = target_.quoteIdent(out.name);
  target_.exec(fmt::format("DROP TABLE IF EXISTS {}", stage));
  target_.exec(
      fmt::format("CREATE TEMPORARY TABLE {} AS SELECT {}, NULL::text AS {} FROM {} WITH "
                  "NO DATA",
                  stage, select, target_.quoteIdent(CopyWriter::kLegacyKeyColumn), qname));
  writer.begin();
  try {
    stream(source, WriteOp::SetColumns, out, [&](const TargetWrite& w) { writer.write(w); });
  } catch (...) {
    writer.abort();
    throw;
  }
  std::uint64_t staged = writer.finish();
  flushUnconvertible();
  if (staged == 0) return;
  std::string set;
  for (std::size_t i = 1; i + 1 < cols.size(); ++i)
    set += fmt::format("{}{} = st.{}", set.empty() ? "" : ", ", target_.quoteIdent(cols[i]),
                       target_.quoteIdent(cols[i]));
  const std::string id = target_.quoteIdent(cols[0]);
  if (!set.empty())
    target_.exec(fmt::format("UPDATE {} AS e SET {} FROM {} AS st WHERE e.{} = st.{}", qname, set,
                             stage, id, id));
  // Values naming a row that is not expected: follow would have parked them (the row they
  // complete does not exist).
  auto res = target_.exec(fmt::format(
      "SELECT count(*) FROM {} AS st WHERE NOT EXISTS (SELECT 1 FROM {} AS e WHERE e.{} = st.{})",
      stage, qname, id, id));
  out.setWithoutRow += std::stoull(std::string(res.value(0, 0)));
  target_.exec(fmt::format("DROP TABLE {}", stage));
}

void ExpectedRows::noteUnconvertible(const ExpectedSource& source, const Change& change,
                                     const std::string& problem, ExpectedTable& out) {
  ++out.unconvertible;
  if (out.unconvertibleSamples.size() < kSamples) out.unconvertibleSamples.push_back(problem);
  // The target id this row would have had: the parked entry follow made for it names the
  // source row, not the id; the comparison looks the id up here.
  const TargetMapping& m = *source.plan->mapping;
  if (m.mode != TargetMode::Upsert) return;
  std::vector<std::string_view> parts;
  for (const auto& key : m.keyColumns) {
    for (std::size_t i = 0; i < change.columnCount(); ++i) {
      ColumnView c = change.column(i);
      if (c.name == key) {
        if (c.isNull()) return;
        parts.push_back(c.value);
        break;
      }
    }
  }
  if (parts.size() != m.keyColumns.size()) return;
  // Kept until the COPY running on this session has ended (flushUnconvertible()).
  unconvertibleIds_.push_back(
      transformer_.ids().id(m.keyTable, std::span<const std::string_view>(parts)).str());
}

void ExpectedRows::flushUnconvertible() {
  if (unconvertibleIds_.empty()) return;
  std::string list;
  for (const auto& id : unconvertibleIds_) list += (list.empty() ? "" : ",") + id;
  target_.execParams(
      fmt::format("INSERT INTO {} SELECT unnest(string_to_array($1, ','))::uuid ON CONFLICT DO "
                  "NOTHING",
                  target_.quoteIdent(kUnconvertibleIds)),
      {list});
  unconvertibleIds_.clear();
}

}  // namespace pgmorph
