#include "tests/e2e/TargetComparison.h"

#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "tests/e2e/TargetProjection.h"

namespace pgmorph::e2e {

namespace {

using Row = std::vector<std::optional<std::string>>;

// Ids are primary keys on both sides, never NULL; an empty string stands in defensively.
const std::string& idOf(const Row& row) {
  static const std::string none;
  return row[0] ? *row[0] : none;
}

std::vector<Row> readRows(const PgResult& res) {
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(res.rows()));
  for (int r = 0; r < res.rows(); ++r) {
    Row row;
    row.reserve(static_cast<std::size_t>(res.columns()));
    for (int c = 0; c < res.columns(); ++c) {
      if (res.isNull(r, c))
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(res.value(r, c)));
    }
    rows.push_back(std::move(row));
  }
  // Sorting here (not only ORDER BY) keeps the merge below independent of collation and
  // of how either server orders uuids.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return idOf(a) < idOf(b); });
  return rows;
}

std::string show(const std::optional<std::string>& v) {
  if (!v) return "NULL";
  if (v->size() > 60) return fmt::format("'{}...' ({} chars)", v->substr(0, 57), v->size());
  return fmt::format("'{}'", *v);
}

std::string showRow(const TableProjection& t, const Row& row) {
  std::string out;
  for (std::size_t c = 0; c < row.size(); ++c) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}={}", t.columns[c], show(row[c]));
  }
  return out;
}

// Reports ids that occur more than once on one side and adds them to `ambiguous`: such an id
// is not compared further (which of its rows would be the right one?).
std::size_t countDuplicates(const std::vector<Row>& rows, const TableProjection& t,
                            const char* side, TableDifference& diff, std::size_t maxExamples,
                            std::set<std::string>& ambiguous) {
  std::size_t n = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (idOf(rows[i]) != idOf(rows[i - 1])) continue;
    ++n;
    ambiguous.insert(idOf(rows[i]));
    if (diff.examples.size() < maxExamples * 4)
      diff.examples.push_back(
          fmt::format("  duplicate id on the {}: {}", side, showRow(t, rows[i])));
  }
  return n;
}

TableDifference compareTable(const TableProjection& t, PgConnection& source, PgConnection& target,
                             const std::string& idNamespace, std::size_t maxExamples) {
  std::string columns;
  for (const auto& c : t.columns) {
    if (!columns.empty()) columns += ", ";
    columns += target.quoteIdent(c);
  }
  auto targetRows = readRows(target.exec(fmt::format("SELECT {} FROM {} ORDER BY 1", columns,
                                                     target.quoteQualified("public", t.table))));
  auto expectedRows = readRows(
      source.execParams(fmt::format("SELECT * FROM ({}) AS projection ORDER BY 1", t.sourceQuery),
                        {std::optional<std::string_view>(idNamespace)}));

  TableDifference diff;
  diff.table = t.table;
  diff.targetRows = targetRows.size();
  diff.expectedRows = expectedRows.size();
  std::set<std::string> ambiguous;
  diff.duplicates = countDuplicates(targetRows, t, "target", diff, maxExamples, ambiguous) +
                    countDuplicates(expectedRows, t, "projection", diff, maxExamples, ambiguous);

  std::vector<std::string> missing, extra, different;
  auto note = [&](std::vector<std::string>& list, std::string text) {
    if (list.size() < maxExamples) list.push_back(std::move(text));
  };
  std::size_t i = 0, j = 0;
  while (i < targetRows.size() || j < expectedRows.size()) {
    if (i < targetRows.size() && ambiguous.count(idOf(targetRows[i]))) {
      ++i;
      continue;
    }
    if (j < expectedRows.size() && ambiguous.count(idOf(expectedRows[j]))) {
      ++j;
      continue;
    }
    const std::string* tid = i < targetRows.size() ? &idOf(targetRows[i]) : nullptr;
    const std::string* eid = j < expectedRows.size() ? &idOf(expectedRows[j]) : nullptr;
    if (tid && (!eid || *tid < *eid)) {
      ++diff.extra;
      note(extra, fmt::format("  extra on target:   {}", showRow(t, targetRows[i])));
      ++i;
    } else if (eid && (!tid || *eid < *tid)) {
      ++diff.missing;
      note(missing, fmt::format("  missing on target: {}", showRow(t, expectedRows[j])));
      ++j;
    } else {
      const Row& a = targetRows[i];
      const Row& b = expectedRows[j];
      std::string cols;
      for (std::size_t c = 1; c < a.size(); ++c) {
        if (a[c] == b[c]) continue;
        cols += fmt::format(" {}: target={} expected={};", t.columns[c], show(a[c]), show(b[c]));
      }
      if (!cols.empty()) {
        ++diff.different;
        note(different,
             fmt::format("  different, id={} legacy id={}:{}", idOf(a), show(b.back()), cols));
      }
      ++i;
      ++j;
    }
  }
  for (auto* list : {&missing, &extra, &different})
    diff.examples.insert(diff.examples.end(), list->begin(), list->end());
  return diff;
}

}  // namespace

bool ComparisonReport::equal() const {
  return std::all_of(tables.begin(), tables.end(), [](const auto& t) { return t.equal(); });
}

std::size_t ComparisonReport::expectedRows() const {
  std::size_t n = 0;
  for (const auto& t : tables) n += t.expectedRows;
  return n;
}

std::string ComparisonReport::str() const {
  std::string out;
  for (const auto& t : tables) {
    out += fmt::format("{:<16} target {:>6} rows, expected {:>6}: {}\n", t.table, t.targetRows,
                       t.expectedRows,
                       t.equal() ? std::string("equal")
                                 : fmt::format("{} missing, {} extra, {} different, {} duplicate",
                                               t.missing, t.extra, t.different, t.duplicates));
  }
  for (const auto& t : tables) {
    if (t.equal()) continue;
    out += fmt::format("{}:\n", t.table);
    for (const auto& e : t.examples) out += e + "\n";
  }
  return out;
}

ComparisonReport compareTargetWithProjection(PgConnection& source, PgConnection& target,
                                             const std::vector<TableProjection>& tables,
                                             const std::string& idNamespace,
                                             std::size_t maxExamples) {
  ComparisonReport report;
  for (const auto& t : tables)
    report.tables.push_back(compareTable(t, source, target, idNamespace, maxExamples));
  return report;
}

ComparisonReport compareTargetWithProjection(PgConnection& source, PgConnection& target,
                                             const std::string& idNamespace,
                                             std::size_t maxExamples) {
  return compareTargetWithProjection(source, target, dispatchProjection(), idNamespace,
                                     maxExamples);
}

}  // namespace pgmorph::e2e
