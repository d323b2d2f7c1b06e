#include "app/check/CheckReport.h"

#include "cdc/json/JsonWriter.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

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

void lsnOrNull(JsonWriter& w, const std::optional<Lsn>& lsn) {
  w.stringOrNull(lsn ? std::optional<std::string>(lsn->str()) : std::nullopt);
}

}  // namespace

std::string CheckReport::json() const {
  JsonWriter w;
  w.startObject();
  w.key("version");
  w.integer(1);
  w.key("file");
  w.string(file_);
  w.key("status");
  w.string(hasErrors() ? "problems" : "ok");
  w.key("counts");
  w.startObject();
  for (Severity s : {Severity::Error, Severity::Warning, Severity::Info}) {
    w.key(toString(s));
    w.integer(count(s));
  }
  w.endObject();
  w.key("findings");
  w.startArray();
  for (const auto& f : findings_) {
    w.startObject();
    w.key("severity");
    w.string(toString(f.severity));
    w.key("side");
    w.string(toString(f.side));
    w.key("table");
    w.string(f.table);
    w.key("column");
    w.string(f.column);
    w.key("file");
    w.string(file_);
    w.key("line");
    w.integer(f.line);
    w.key("message");
    w.string(f.message);
    w.key("action");
    w.string(f.action);
    w.endObject();
  }
  w.endArray();

  w.key("plan");
  w.startObject();
  w.key("tables");
  w.startArray();
  for (const auto& s : plan_.tables) {
    w.startObject();
    w.key("source");
    w.string(s.table);
    w.key("line");
    w.integer(s.line);
    w.key("targets");
    w.startArray();
    for (const auto& t : s.targets) {
      w.startObject();
      w.key("table");
      w.string(t.table);
      w.key("mode");
      w.string(t.partial ? "update" : "upsert");
      w.key("line");
      w.integer(t.line);
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.key("levels");
  w.startArray();
  for (const auto& level : plan_.levels) {
    w.startArray();
    for (const auto& t : level) w.string(t);
    w.endArray();
  }
  w.endArray();
  w.key("cycles");
  w.startArray();
  for (const auto& c : plan_.cycles) {
    w.startObject();
    w.key("tables");
    w.startArray();
    for (const auto& t : c.tables) w.string(t);
    w.endArray();
    w.key("constraints");
    w.startArray();
    for (const auto& k : c.constraints) {
      w.startObject();
      w.key("name");
      w.string(k.name);
      w.key("table");
      w.string(k.table);
      w.key("deferrable");
      w.boolean(k.deferrable);
      w.endObject();
    }
    w.endArray();
    w.key("deferrable");
    w.boolean(c.deferrable);
    w.endObject();
  }
  w.endArray();
  const PlanSlot& slot = plan_.slot;
  w.key("slot");
  w.startObject();
  w.key("name");
  w.string(slot.name);
  w.key("exists");
  w.boolean(slot.exists);
  w.key("plugin");
  w.string(slot.plugin);
  w.key("active");
  w.boolean(slot.active);
  w.key("wal_status");
  w.string(slot.walStatus);
  w.key("confirmed_flush_lsn");
  lsnOrNull(w, slot.confirmedFlush);
  w.key("retained_wal_bytes");
  if (slot.retainedWalBytes)
    w.unsignedInteger(*slot.retainedWalBytes);
  else
    w.null();
  w.key("checkpoint_lsn");
  lsnOrNull(w, slot.checkpoint);
  w.endObject();
  w.endObject();
  w.endObject();
  return w.text() + "\n";
}

std::string CheckReport::uncheckedJson(const std::string& file, const std::string& why) {
  JsonWriter w;
  w.startObject();
  w.key("version");
  w.integer(1);
  w.key("file");
  w.string(file);
  w.key("status");
  w.string("unchecked");
  w.key("error");
  w.string(why);
  w.endObject();
  return w.text() + "\n";
}

}  // namespace pgmorph
