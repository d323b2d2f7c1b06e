#include "app/check/CheckReport.h"

#include "cdc/json/RapidJsonSetup.h"  // RapidJSON with pgmorph's settings, before its headers

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>

namespace pgmorph {

std::string_view toString(Severity severity) {
  switch (severity) {
    case Severity::Error:
      return "error";
    case Severity::Warning:
      return "warning";
    case Severity::Info:
      break;
  }
  return "info";
}

std::string_view toString(Side side) {
  switch (side) {
    case Side::File:
      return "file";
    case Side::Source:
      return "source";
    case Side::Target:
      return "target";
    case Side::Slot:
      break;
  }
  return "slot";
}

int CheckReport::count(Severity severity) const {
  return static_cast<int>(std::count_if(findings_.begin(), findings_.end(),
                                        [&](const Finding& f) { return f.severity == severity; }));
}

std::string CheckReport::sentence(const Finding& f) const {
  std::string out;
  if (f.line > 0) out += fmt::format("{}:{}: ", file_, f.line);
  if (!f.table.empty())
    out += f.column.empty() ? f.table + ": " : fmt::format("{}.{}: ", f.table, f.column);
  out += f.message;
  if (!f.action.empty()) out += " → " + f.action;
  return out;
}

namespace {

std::string plural(int n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

std::string groupTitle(Side side, const std::string& table, const std::string& slot) {
  if (side == Side::Slot) return fmt::format("slot {}", slot);
  if (side == Side::File) return "pipeline file";
  if (table.empty()) return fmt::format("{} database", toString(side));
  return fmt::format("{} table {}", toString(side), table);
}

}  // namespace

std::string CheckReport::text() const {
  std::string out;
  int errors = count(Severity::Error), warnings = count(Severity::Warning);
  out += fmt::format(
      "pgmorph check of {}: {}, {}{}\n", file_, plural(errors, "error"),
      plural(warnings, "warning"),
      errors ? " — fix the errors before snapshot, follow or run" : " — nothing blocks");

  // Groups in the order source, target, slot; within a side, the database first, then the
  // tables by the first line that concerns them.
  struct Group {
    Side side;
    std::string table;
    int firstLine;
    std::vector<const Finding*> findings;
  };
  std::vector<Group> groups;
  for (const auto& f : findings_) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.side == f.side && g.table == (f.side == Side::Slot ? "" : f.table);
    });
    if (it == groups.end()) {
      groups.push_back({f.side, f.side == Side::Slot ? "" : f.table, f.line, {}});
      it = std::prev(groups.end());
    }
    if (f.line > 0 && (it->firstLine == 0 || f.line < it->firstLine)) it->firstLine = f.line;
    it->findings.push_back(&f);
  }
  std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    return std::make_tuple(a.side, !a.table.empty(), a.firstLine) <
           std::make_tuple(b.side, !b.table.empty(), b.firstLine);
  });
  for (auto& g : groups) {
    std::stable_sort(g.findings.begin(), g.findings.end(),
                     [](const Finding* a, const Finding* b) { return a->severity < b->severity; });
    out += fmt::format("\n{}\n", groupTitle(g.side, g.table, plan_.slot.name));
    for (const Finding* f : g.findings) {
      std::string where = f->line > 0 ? fmt::format("{}:{}: ", file_, f->line) : "";
      std::string what = f->column.empty() ? "" : fmt::format("column {}: ", f->column);
      out += fmt::format("  {:<7} {}{}{}\n", toString(f->severity), where, what, f->message);
      if (!f->action.empty()) out += fmt::format("          → {}\n", f->action);
    }
  }

  if (plan_.tables.empty()) return out;  // the pipeline file could not be read: no plan
  out += "\nplan\n";
  for (const auto& s : plan_.tables) {
    std::vector<std::string> targets;
    for (const auto& t : s.targets)
      targets.push_back(t.partial ? t.table + " (update only)" : t.table);
    out += fmt::format("  {} ({}:{}) → {}\n", s.table, file_, s.line, fmt::join(targets, ", "));
  }
  if (!plan_.levels.empty()) {
    out += "  target tables, parents first (a snapshot copies one level after the other):\n";
    for (std::size_t i = 0; i < plan_.levels.size(); ++i)
      out += fmt::format("    {}. {}\n", i + 1, fmt::join(plan_.levels[i], ", "));
  }
  for (const auto& c : plan_.cycles) {
    std::vector<std::string> keys;
    for (const auto& k : c.constraints)
      keys.push_back(fmt::format("{} on {} ({})", k.name, k.table,
                                 k.deferrable ? "deferrable" : "not deferrable"));
    out += fmt::format("  foreign-key cycle between {}: {}\n", fmt::join(c.tables, ", "),
                       fmt::join(keys, "; "));
  }
  const PlanSlot& slot = plan_.slot;
  if (!slot.exists) {
    out += fmt::format("  slot {}: does not exist yet (created by the first snapshot or follow)\n",
                       slot.name);
  } else {
    out += fmt::format("  slot {}: plugin {}, {}{}, confirmed_flush_lsn {}", slot.name, slot.plugin,
                       slot.active ? "active" : "not active",
                       slot.walStatus.empty() ? "" : ", wal_status " + slot.walStatus,
                       slot.confirmedFlush ? slot.confirmedFlush->str() : "none");
    if (slot.retainedWalBytes)
      out += fmt::format(", retains {} bytes of WAL", *slot.retainedWalBytes);
    out += "\n";
  }
  out += fmt::format("  checkpoint: {}\n",
                     slot.checkpoint ? slot.checkpoint->str() : "none yet (nothing applied)");
  return out;
}

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void key(JsonWriter& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void lsnOrNull(JsonWriter& w, const std::optional<Lsn>& lsn) {
  if (lsn)
    str(w, lsn->str());
  else
    w.Null();
}

}  // namespace

std::string CheckReport::json() const {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  key(w, "version");
  w.Int(1);
  key(w, "file");
  str(w, file_);
  key(w, "status");
  str(w, hasErrors() ? "problems" : "ok");
  key(w, "counts");
  w.StartObject();
  for (Severity s : {Severity::Error, Severity::Warning, Severity::Info}) {
    key(w, toString(s));
    w.Int(count(s));
  }
  w.EndObject();
  key(w, "findings");
  w.StartArray();
  for (const auto& f : findings_) {
    w.StartObject();
    key(w, "severity");
    str(w, toString(f.severity));
    key(w, "side");
    str(w, toString(f.side));
    key(w, "table");
    str(w, f.table);
    key(w, "column");
    str(w, f.column);
    key(w, "file");
    str(w, file_);
    key(w, "line");
    w.Int(f.line);
    key(w, "message");
    str(w, f.message);
    key(w, "action");
    str(w, f.action);
    w.EndObject();
  }
  w.EndArray();

  key(w, "plan");
  w.StartObject();
  key(w, "tables");
  w.StartArray();
  for (const auto& s : plan_.tables) {
    w.StartObject();
    key(w, "source");
    str(w, s.table);
    key(w, "line");
    w.Int(s.line);
    key(w, "targets");
    w.StartArray();
    for (const auto& t : s.targets) {
      w.StartObject();
      key(w, "table");
      str(w, t.table);
      key(w, "mode");
      str(w, t.partial ? "update" : "upsert");
      key(w, "line");
      w.Int(t.line);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  key(w, "levels");
  w.StartArray();
  for (const auto& level : plan_.levels) {
    w.StartArray();
    for (const auto& t : level) str(w, t);
    w.EndArray();
  }
  w.EndArray();
  key(w, "cycles");
  w.StartArray();
  for (const auto& c : plan_.cycles) {
    w.StartObject();
    key(w, "tables");
    w.StartArray();
    for (const auto& t : c.tables) str(w, t);
    w.EndArray();
    key(w, "constraints");
    w.StartArray();
    for (const auto& k : c.constraints) {
      w.StartObject();
      key(w, "name");
      str(w, k.name);
      key(w, "table");
      str(w, k.table);
      key(w, "deferrable");
      w.Bool(k.deferrable);
      w.EndObject();
    }
    w.EndArray();
    key(w, "deferrable");
    w.Bool(c.deferrable);
    w.EndObject();
  }
  w.EndArray();
  const PlanSlot& slot = plan_.slot;
  key(w, "slot");
  w.StartObject();
  key(w, "name");
  str(w, slot.name);
  key(w, "exists");
  w.Bool(slot.exists);
  key(w, "plugin");
  str(w, slot.plugin);
  key(w, "active");
  w.Bool(slot.active);
  key(w, "wal_status");
  str(w, slot.walStatus);
  key(w, "confirmed_flush_lsn");
  lsnOrNull(w, slot.confirmedFlush);
  key(w, "retained_wal_bytes");
  if (slot.retainedWalBytes)
    w.Uint64(*slot.retainedWalBytes);
  else
    w.Null();
  key(w, "checkpoint_lsn");
  lsnOrNull(w, slot.checkpoint);
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string CheckReport::uncheckedJson(const std::string& file, const std::string& why) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  key(w, "version");
  w.Int(1);
  key(w, "file");
  str(w, file);
  key(w, "status");
  str(w, "unchecked");
  key(w, "error");
  str(w, why);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace pgmorph
