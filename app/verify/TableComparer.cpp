#include "app/verify/TableComparer.h"

#include <fmt/format.h>

#include <set>

namespace pgmorph {

namespace {

std::optional<std::string> valueOf(const PgResult& res, int row, int col, std::size_t max) {
  if (res.isNull(row, col)) return std::nullopt;
  std::string v(res.value(row, col));
  if (v.size() > max) {
    // Cut at a UTF-8 character boundary.
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;
    v = v.substr(0, cut) + "…";
  }
  return v;
}

}  // namespace

TableComparer::TableComparer(PgConnection& target, std::string parkedTable, std::string pipeline,
                             std::uint64_t maxDifferences, std::size_t maxValueChars)
    : target_(target),
      parkedTable_(std::move(parkedTable)),
      pipeline_(std::move(pipeline)),
      maxDifferences_(maxDifferences),
      maxValueChars_(maxValueChars) {}

std::string TableComparer::fromClause(const TargetTable& table,
                                      const ExpectedTable& expected) const {
  const std::string id = target_.quoteIdent(expected.columns[0]);
  // Ids the pipeline knows about: parked entries of this target table ($1 pipeline, $2 the
  // table), and source rows the mapping cannot convert.
  std::string known =
      fmt::format("SELECT id FROM {}", target_.quoteIdent(ExpectedRows::kUnconvertibleIds));
  if (!parkedTable_.empty())
    known += fmt::format(
        " UNION SELECT row_id FROM {} WHERE pipeline = $1 AND target_table = $2 AND row_id IS "
        "NOT NULL",
        parkedTable_);
  return fmt::format(
      "FROM {} AS e FULL JOIN {} AS t ON e.{} = t.{} "
      "LEFT JOIN ({}) AS p (id) ON p.id = coalesce(e.{}, t.{})",
      target_.quoteIdent(expected.name), target_.quoteQualified(table.schema, table.name), id, id,
      known, id, id);
}

std::set<std::string> TableComparer::withEquality(const TargetTable& table) const {
  // Columns whose type (a domain's base type) has an = operator of its own compare as values:
  // equal timestamptz instants, equal jsonb documents. The others (json, xml, point, arrays of
  // such types, ...) compare by their text output, which is canonical for one type.
  auto res = target_.execParams(
      "SELECT a.attname FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid "
      "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND EXISTS ("
      "SELECT 1 FROM pg_operator o WHERE o.oprname = '=' AND o.oprleft = o.oprright AND "
      "o.oprleft = CASE WHEN ty.typbasetype <> 0 THEN ty.typbasetype ELSE ty.oid END)",
      {target_.quoteQualified(table.schema, table.name)});
  std::set<std::string> out;
  for (int r = 0; r < res.rows(); ++r) out.emplace(res.value(r, 0));
  return out;
}

std::string TableComparer::columnDiffers(const std::string& column,
                                         const std::set<std::string>& equality) const {
  const std::string c = target_.quoteIdent(column);
  if (equality.count(column)) return fmt::format("e.{} IS DISTINCT FROM t.{}", c, c);
  return fmt::format("e.{}::text IS DISTINCT FROM t.{}::text", c, c);
}

std::string TableComparer::differs(const ExpectedTable& expected,
                                   const std::set<std::string>& equality) const {
  std::string out;
  for (std::size_t i = 1; i < expected.columns.size(); ++i)
    out += (out.empty() ? "" : " OR ") + columnDiffers(expected.columns[i], equality);
  return out.empty() ? "false" : "(" + out + ")";
}

void TableComparer::compare(const TargetTable& table, const ExpectedTable& expected,
                            TableResult& out) {
  const std::string id = target_.quoteIdent(expected.columns[0]);
  const std::string from = fromClause(table, expected);
  const std::set<std::string> equality = withEquality(table);
  const std::string diff = differs(expected, equality);
  const std::string qualified = table.schema + "." + table.name;
  std::vector<std::optional<std::string_view>> params{pipeline_, qualified};
  if (parkedTable_.empty()) params.clear();
  // Counts in one pass. $1/$2 are only referenced when the parked table exists.
  auto counts = target_.execParams(
      fmt::format("SELECT count(e.{id}), count(t.{id}),"
                  " count(*) FILTER (WHERE p.id IS NULL AND t.{id} IS NULL),"
                  " count(*) FILTER (WHERE p.id IS NULL AND e.{id} IS NULL),"
                  " count(*) FILTER (WHERE p.id IS NULL AND e.{id} IS NOT NULL AND t.{id} IS NOT "
                  "NULL AND {diff}),"
                  " count(*) FILTER (WHERE p.id IS NOT NULL AND (e.{id} IS NULL OR t.{id} IS NULL "
                  "OR {diff})) {from}",
                  fmt::arg("id", id), fmt::arg("diff", diff), fmt::arg("from", from)),
      params);
  auto n = [&](int col) { return std::stoull(std::string(counts.value(0, col))); };
  out.expectedRows = n(0);
  out.targetRows = n(1);
  out.missing = n(2);
  out.extra = n(3);
  out.different = n(4);
  out.parked = n(5);
  if (out.differenceCount() == 0 || maxDifferences_ == 0) return;

  // The first differences, in a stable order: source table, legacy key, id.
  std::string values;
  for (std::size_t i = 1; i < expected.columns.size(); ++i) {
    const std::string c = target_.quoteIdent(expected.columns[i]);
    values += fmt::format(
        ", e.{c}::text IS DISTINCT FROM t.{c}::text, left(e.{c}::text, {n}), "
        "left(t.{c}::text, {n})",
        fmt::arg("c", c), fmt::arg("n", maxValueChars_ + 1));
  }
  auto rows = target_.execParams(
      fmt::format("SELECT e.{id} IS NOT NULL, t.{id} IS NOT NULL, p.id IS NOT NULL, "
                  "coalesce(e.{id}, t.{id})::text, e.{plan}, e.{key}{values} {from} "
                  "WHERE e.{id} IS NULL OR t.{id} IS NULL OR {diff} "
                  "ORDER BY e.{plan} NULLS LAST, length(e.{key}), e.{key}, 4 LIMIT {limit}",
                  fmt::arg("id", id),
                  fmt::arg("plan", target_.quoteIdent(ExpectedRows::kPlanColumn)),
                  fmt::arg("key", target_.quoteIdent(ExpectedRows::kLegacyKeyColumn)),
                  fmt::arg("values", values), fmt::arg("from", from), fmt::arg("diff", diff),
                  fmt::arg("limit", maxDifferences_)),
      params);
  for (int r = 0; r < rows.rows(); ++r) {
    RowDifference d;
    d.expected = rows.value(r, 0) == "t";
    d.onTarget = rows.value(r, 1) == "t";
    bool parked = rows.value(r, 2) == "t";
    d.id = std::string(rows.value(r, 3));
    if (!rows.isNull(r, 4)) {
      std::size_t plan = std::stoul(std::string(rows.value(r, 4)));
      if (plan < expected.upserts.size() && expected.upserts[plan]->source)
        d.sourceTable = expected.upserts[plan]->source->idName;
    }
    if (!rows.isNull(r, 5)) d.legacyKey = std::string(rows.value(r, 5));
    if (parked)
      d.kind = RowDifference::Kind::Parked;
    else if (!d.onTarget)
      d.kind = RowDifference::Kind::Missing;
    else if (!d.expected)
      d.kind = RowDifference::Kind::Extra;
    else
      d.kind = RowDifference::Kind::Different;
    {
      for (std::size_t i = 1; i < expected.columns.size(); ++i) {
        int base = 6 + static_cast<int>(i - 1) * 3;
        if (rows.value(r, base) != "t") continue;
        d.columns.push_back({expected.columns[i], valueOf(rows, r, base + 1, maxValueChars_),
                             valueOf(rows, r, base + 2, maxValueChars_)});
      }
    }
    out.differences.push_back(std::move(d));
  }
}

}  // namespace pgmorph
