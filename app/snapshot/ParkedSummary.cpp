#include "app/snapshot/ParkedSummary.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>

namespace pgmorph {

std::string withThousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::vector<std::string> parkedSummaryLines(const std::vector<ParkedStore::TableCount>& counts,
                                            const std::string& pipeline) {
  // countByTable is ordered by table then kind.
  std::map<std::string, std::vector<const ParkedStore::TableCount*>> byTable;
  std::int64_t total = 0;
  for (const auto& c : counts) {
    byTable[c.targetTable].push_back(&c);
    total += c.rows;
  }
  if (total == 0) return {"parked: none (every row the snapshot read is on the target)"};
  std::vector<std::string> lines;
  lines.push_back(fmt::format(
      "parked: {} row{} of pipeline '{}' are not on the target; see them with `pgmorph parked "
      "list -c <pipeline file> --table T`, apply them once fixed with `pgmorph parked retry "
      "--all`",
      withThousands(total), total == 1 ? "" : "s", pipeline));
  for (const auto& [table, kinds] : byTable) {
    std::int64_t rows = 0;
    std::string why;
    for (const auto* c : kinds) {
      rows += c->rows;
      why += fmt::format("{}{} {}", why.empty() ? "" : ", ", toString(c->kind),
                         withThousands(c->rows));
    }
    lines.push_back(fmt::format("  {} {} ({})", table, withThousands(rows), why));
  }
  return lines;
}

void logParkedSummary(PgConnection& target, const ParkedStore& store) {
  // No parked table: nothing was ever parked (the workers create it when they start).
  std::vector<ParkedStore::TableCount> counts;
  if (store.exists(target)) counts = store.countByTable(target);
  auto lines = parkedSummaryLines(counts, store.pipeline());
  bool any = lines.size() > 1;
  for (const auto& line : lines) {
    if (any)
      spdlog::warn("{}", line);
    else
      spdlog::info("{}", line);
  }
}

}  // namespace pgmorph
