#include "tests/e2e/ExactlyOnceCheck.h"

#include <map>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace pgmorph::e2e {

namespace {

struct Counts {
  std::int64_t ins = 0, upd = 0, del = 0;
  std::string legacyId;  // known from the source side
};

std::int64_t toInt(std::string_view v) {
  return std::stoll(std::string(v));
}

}  // namespace

std::string ExactlyOnceReport::str() const {
  std::string out = fmt::format(
      "{} rows on the target; target audit: {} INSERT, {} UPDATE, {} DELETE; source audit: {} "
      "INSERT, {} UPDATE, {} DELETE; {} rows applied more often than they changed",
      rows, targetInserts, targetUpdates, targetDeletes, sourceInserts, sourceUpdates,
      sourceDeletes, violations);
  for (const auto& e : examples) out += "\n  " + e;
  return out;
}

ExactlyOnceReport checkExactlyOnce(PgConnection& source, PgConnection& target,
                                   const std::string& idNamespace, const std::string& sourceTable,
                                   const std::string& targetTable, std::size_t maxExamples) {
  std::map<std::string, Counts> src, tgt;
  {
    auto res = source.execParams(
        R"(SELECT uuid_generate_v5($1::uuid, $2 || ':' || legacy_id)::text, legacy_id::text,
                  count(*) FILTER (WHERE op = 'INSERT'),
                  count(*) FILTER (WHERE op = 'UPDATE'),
                  count(*) FILTER (WHERE op = 'DELETE')
           FROM e2e_audit.events WHERE tbl = $2 GROUP BY legacy_id)",
        {std::optional<std::string_view>(idNamespace),
         std::optional<std::string_view>(sourceTable)});
    for (int r = 0; r < res.rows(); ++r) {
      src[std::string(res.value(r, 0))] =
          Counts{toInt(res.value(r, 2)), toInt(res.value(r, 3)), toInt(res.value(r, 4)),
                 std::string(res.value(r, 1))};
    }
  }
  {
    auto res = target.execParams(
        R"(SELECT id::text,
                  count(*) FILTER (WHERE op = 'INSERT'),
                  count(*) FILTER (WHERE op = 'UPDATE'),
                  count(*) FILTER (WHERE op = 'DELETE')
           FROM public.e2e_audit WHERE tbl = $1 GROUP BY id)",
        {std::optional<std::string_view>(targetTable)});
    for (int r = 0; r < res.rows(); ++r) {
      tgt[std::string(res.value(r, 0))] =
          Counts{toInt(res.value(r, 1)), toInt(res.value(r, 2)), toInt(res.value(r, 3)), {}};
    }
  }
  std::set<std::string> rows;
  {
    auto res = target.exec(
        fmt::format("SELECT id::text FROM {}", target.quoteQualified("public", targetTable)));
    for (int r = 0; r < res.rows(); ++r) rows.emplace(res.value(r, 0));
  }

  ExactlyOnceReport report;
  report.rows = static_cast<std::int64_t>(rows.size());
  for (const auto& [id, c] : src) {
    report.sourceInserts += c.ins;
    report.sourceUpdates += c.upd;
    report.sourceDeletes += c.del;
  }
  auto violation = [&](const std::string& id, std::string what) {
    ++report.violations;
    if (report.examples.size() >= maxExamples) return;
    auto s = src.find(id);
    report.examples.push_back(
        fmt::format("{} id {} (legacy {} id {}): {}", targetTable, id, sourceTable,
                    s == src.end() ? std::string("unknown") : s->second.legacyId, what));
  };
  for (const auto& [id, t] : tgt) {
    report.targetInserts += t.ins;
    report.targetUpdates += t.upd;
    report.targetDeletes += t.del;
    Counts s;
    if (auto it = src.find(id); it != src.end()) s = it->second;
    if (t.ins > s.ins || t.upd > s.upd || t.del > s.del)
      violation(id, fmt::format("target saw {} INSERT / {} UPDATE / {} DELETE, source only {} / "
                                "{} / {}",
                                t.ins, t.upd, t.del, s.ins, s.upd, s.del));
    else if (rows.count(id) && t.ins != 1)
      violation(id, fmt::format("row present but inserted {} times", t.ins));
  }
  for (const auto& id : rows) {
    if (!tgt.count(id)) violation(id, "row present but no INSERT was recorded");
  }
  return report;
}

}  // namespace pgmorph::e2e
