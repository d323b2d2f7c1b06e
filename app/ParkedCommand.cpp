#include "app/ParkedCommand.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "app/ParkedParentKeys.h"
#include "cdc/pg/PgConnection.h"
#include "state/ParkedStore.h"

namespace pgmorph {

namespace {

std::string shorten(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  // Cut on a UTF-8 character boundary.
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

// "2024-06-01 12:00:00.123456+00" -> "2024-06-01 12:00:00"
std::string seconds(const std::string& ts) {
  return ts.substr(0, std::min<std::size_t>(ts.size(), 19));
}

std::vector<std::int64_t> notFound(const std::vector<std::int64_t>& asked,
                                   const std::vector<ParkedRow>& found) {
  std::set<std::int64_t> have;
  for (const auto& r : found) have.insert(r.id);
  std::vector<std::int64_t> out;
  for (auto id : asked)
    if (!have.count(id)) out.push_back(id);
  return out;
}

}  // namespace

ParkedCommand::ParkedCommand(const PipelineConfig& config) : config_(config) {}

int ParkedCommand::list(const Selection& selection, std::ostream& out) {
  PgConnection target(config_.target.conninfo, "target");
  ParkedStore store(config_.target.stateSchema, config_.pipeline);
  if (!store.exists(target)) {
    out << fmt::format(
        "nothing is parked for pipeline '{}' (no table {}.parked on the target yet)\n",
        config_.pipeline, config_.target.stateSchema);
    return 0;
  }
  ParkedStore::Filter filter{selection.table, selection.reason, selection.kind};
  std::vector<ParkedRow> rows = store.list(target, filter, selection.limit);
  std::vector<std::vector<std::string>> table;
  table.push_back({"ID", "KIND", "TARGET TABLE", "SOURCE TABLE", "LEGACY KEY", "ATTEMPTS",
                   "FIRST SEEN", "MISSING PARENT", "REASON"});
  std::map<std::string, std::size_t> byKind;
  // The legacy side of each missing parent, which is what the operator fixes.
  std::map<std::int64_t, std::string> parentKeys = missingParentKeys(config_, rows);
  for (const ParkedRow& r : rows) {
    ++byKind[std::string(toString(r.kind))];
    std::string missing =
        r.missingId ? fmt::format("{} {}", r.missingTable, r.missingId->str()) : std::string("-");
    if (auto key = parentKeys.find(r.id); key != parentKeys.end())
      missing += fmt::format(" ({})", key->second);
    table.push_back({std::to_string(r.id), std::string(toString(r.kind)), r.targetTable,
                     r.sourceTable, r.legacyKey.empty() ? "-" : r.legacyKey,
                     std::to_string(r.attempts), seconds(r.firstSeen), missing,
                     selection.wide ? r.reason : shorten(r.reason, 160)});
  }
  std::vector<std::size_t> width(table.front().size(), 0);
  for (const auto& line : table)
    for (std::size_t c = 0; c + 1 < line.size(); ++c) width[c] = std::max(width[c], line[c].size());
  for (const auto& line : table) {
    std::string text;
    for (std::size_t c = 0; c < line.size(); ++c) {
      text += line[c];
      if (c + 1 < line.size()) text += std::string(width[c] - line[c].size() + 2, ' ');
    }
    out << text << '\n';
  }
  std::string kinds;
  for (const auto& [kind, n] : byKind)
    kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, kind);
  std::int64_t total = store.count(target);
  out << fmt::format("{} parked row{} shown{}; {} parked in all for pipeline '{}'\n", rows.size(),
                     rows.size() == 1 ? "" : "s", kinds.empty() ? "" : " (" + kinds + ")", total,
                     config_.pipeline);
  return 0;
}

int ParkedCommand::discard(const Selection& selection, std::ostream& out) {
  PgConnection target(config_.target.conninfo, "target");
  ParkedStore store(config_.target.stateSchema, config_.pipeline);
  if (!store.exists(target)) {
    out << "nothing is parked\n";
    return 0;
  }
  std::vector<ParkedRow> rows;
  int status = 0;
  if (!selection.ids.empty()) {
    rows = store.byIds(target, selection.ids);
    for (auto id : notFound(selection.ids, rows)) {
      out << fmt::format("no parked row with id {}\n", id);
      status = 1;
    }
  } else {
    rows = store.list(target, ParkedStore::Filter{selection.table, "", std::nullopt});
  }
  std::vector<std::int64_t> ids;
  std::map<std::string, std::size_t> byTable;
  for (const auto& r : rows) {
    ids.push_back(r.id);
    ++byTable[r.targetTable];
  }
  target.exec("BEGIN");
  std::size_t removed = store.remove(target, ids);
  target.exec("COMMIT");
  std::string tables;
  for (const auto& [t, n] : byTable)
    tables += fmt::format("{}{} {}", tables.empty() ? "" : ", ", n, t);
  std::string line = fmt::format("discarded {} parked row{}{}", removed, removed == 1 ? "" : "s",
                                 tables.empty() ? "" : " (" + tables + ")");
  // The ids, so that what was thrown away can be traced in the log.
  if (!ids.empty()) spdlog::info("{}: ids {}", line, fmt::join(ids, ", "));
  out << line << '\n';
  return status;
}

}  // namespace pgmorph
