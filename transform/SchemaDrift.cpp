#include "transform/SchemaDrift.h"

#include <fmt/format.h>

#include <algorithm>

#include "cdc/model/Change.h"

namespace pgmorph {

namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// One dropped and one added column in the same comparison read as a rename (a drop and an
// add look the same; the message says "renamed?").
void pairRename(std::vector<Drift>& drifts) {
  auto count = [&](DriftKind k) {
    return std::count_if(drifts.begin(), drifts.end(), [k](const Drift& d) { return d.kind == k; });
  };
  if (count(DriftKind::Dropped) != 1 || count(DriftKind::Added) != 1) return;
  auto dropped = std::find_if(drifts.begin(), drifts.end(),
                              [](const Drift& d) { return d.kind == DriftKind::Dropped; });
  auto added = std::find_if(drifts.begin(), drifts.end(),
                            [](const Drift& d) { return d.kind == DriftKind::Added; });
  Drift renamed = *dropped;
  renamed.kind = DriftKind::Renamed;
  renamed.newColumn = added->column;
  renamed.newType = added->newType;
  renamed.newMapped = added->mapped;
  std::vector<Drift> out;
  for (auto it = drifts.begin(); it != drifts.end(); ++it) {
    if (it == added) continue;
    out.push_back(it == dropped ? renamed : *it);
  }
  drifts = std::move(out);
}

Drift added(std::string name, std::string type, const std::vector<std::string>& mapped) {
  Drift d;
  d.kind = DriftKind::Added;
  d.mapped = contains(mapped, name);
  d.column = std::move(name);
  d.newType = std::move(type);
  return d;
}

Drift dropped(const ColumnShape& c, const std::vector<std::string>& mapped) {
  Drift d;
  d.kind = DriftKind::Dropped;
  d.column = c.name;
  d.oldType = c.type;
  d.mapped = contains(mapped, c.name);
  return d;
}

Drift retyped(const ColumnShape& c, std::string type, const std::vector<std::string>& mapped) {
  Drift d;
  d.kind = DriftKind::Retyped;
  d.column = c.name;
  d.oldType = c.type;
  d.newType = std::move(type);
  d.mapped = contains(mapped, c.name);
  return d;
}

// The value's JSON kind against the type's: Null says nothing.
bool kindDiffers(ExpectedKind expected, ValueKind kind) {
  if (expected == ExpectedKind::Any || kind == ValueKind::Null) return false;
  switch (kind) {
    case ValueKind::Number:
      return expected != ExpectedKind::Number;
    case ValueKind::Bool:
      return expected != ExpectedKind::Bool;
    case ValueKind::String:
      return expected != ExpectedKind::String;
    case ValueKind::Null:
      break;
  }
  return false;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

ExpectedKind expectedKind(std::string_view type) {
  // wal2json 2.5 (pg_decode_write_value): int2/4/8, oid, float4/8 and numeric unquoted (NaN and
  // infinities as null), bool as true/false, everything else through the output function,
  // quoted. A domain keeps its own name here and is left alone (Any).
  if (type.ends_with("[]")) return ExpectedKind::String;
  static constexpr std::string_view numbers[] = {"smallint", "integer", "bigint",
                                                 "oid",      "real",    "double precision"};
  for (auto n : numbers)
    if (type == n) return ExpectedKind::Number;
  if (type == "numeric" || startsWith(type, "numeric(")) return ExpectedKind::Number;
  if (type == "boolean") return ExpectedKind::Bool;
  static constexpr std::string_view strings[] = {
      "text",    "character", "\"char\"", "name",      "json",     "jsonb", "uuid",
      "bytea",   "date",      "time",     "timestamp", "interval", "inet",  "cidr",
      "macaddr", "xml",       "money",    "bit",       "tsvector"};
  for (auto p : strings)
    if (type == p || startsWith(type, std::string(p) + " ") ||
        startsWith(type, std::string(p) + "("))
      return ExpectedKind::String;
  return ExpectedKind::Any;
}

std::vector<ExpectedKind> expectedKinds(const TableShape& shape) {
  std::vector<ExpectedKind> out;
  for (const auto& c : shape.columns) out.push_back(expectedKind(c.type));
  return out;
}

std::string_view toString(DriftKind kind) {
  switch (kind) {
    case DriftKind::Added:
      return "added";
    case DriftKind::Dropped:
      return "dropped";
    case DriftKind::Renamed:
      return "renamed";
    case DriftKind::Retyped:
      return "retyped";
  }
  return "?";
}

std::vector<std::string> mappedColumns(const TableMapping& table) {
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (!contains(out, name)) out.push_back(name);
  };
  for (const auto& k : table.keyColumns) add(k);
  for (const auto& t : table.targets) {
    for (const auto& k : t.keyColumns) add(k);
    for (const auto& c : t.columns) add(c.source);
    for (const auto& w : t.where) add(w.column);
  }
  return out;
}

bool SchemaDrift::sameColumns(const TableShape& shape, const std::vector<ExpectedKind>& kinds,
                              const Change& change) {
  // Inserts and most updates carry every column in attribute order, the shape's order: one
  // pass of short comparisons. Anything else goes to ofChange.
  auto same = [&](const ColumnView& c, std::size_t i) {
    const ColumnShape& s = shape.columns[i];
    return c.name == s.name && !kindDiffers(kinds[i], c.kind) &&
           (c.type.empty() || c.type == s.type);
  };
  if (change.kind != ChangeKind::Delete) {
    if (change.columnCount() != shape.columns.size()) return false;
    for (std::size_t i = 0; i < shape.columns.size(); ++i)
      if (!same(change.column(i), i)) return false;
  }
  for (std::size_t i = 0; i < change.identityCount(); ++i) {
    ColumnView c = change.identity(i);
    const ColumnShape* s = shape.find(c.name);
    if (!s || !same(c, static_cast<std::size_t>(s - shape.columns.data()))) return false;
  }
  return true;
}

std::vector<Drift> SchemaDrift::ofChange(const TableShape& shape, const Change& change,
                                         const TableMapping& mapping) {
  std::vector<std::string> mapped = mappedColumns(mapping);
  std::vector<Drift> out;
  std::vector<std::string> seen;
  auto look = [&](const ColumnView& c) {
    if (contains(seen, c.name)) return;
    seen.emplace_back(c.name);
    const ColumnShape* s = shape.find(c.name);
    if (!s)
      out.push_back(added(std::string(c.name), std::string(c.type), mapped));
    else if (!c.type.empty() ? c.type != s->type : kindDiffers(expectedKind(s->type), c.kind))
      // Without a type in the change, the new type is unknown here ("" ): the caller may
      // look it up in the catalog for its message.
      out.push_back(retyped(*s, std::string(c.type), mapped));
  };
  for (std::size_t i = 0; i < change.columnCount(); ++i) look(change.column(i));
  for (std::size_t i = 0; i < change.identityCount(); ++i) look(change.identity(i));
  if (change.kind == ChangeKind::Insert || change.kind == ChangeKind::Update) {
    for (const auto& s : shape.columns) {
      if (change.findColumn(s.name)) continue;
      // An update leaves out a toastable column whose value is an unchanged TOAST pointer:
      // not a drop by itself (invariant 7).
      if (change.kind == ChangeKind::Update && s.toastable) continue;
      out.push_back(dropped(s, mapped));
    }
  }
  pairRename(out);
  return out;
}

std::vector<Drift> SchemaDrift::ofShapes(const TableShape& accepted, const TableShape& current,
                                         const TableMapping& mapping) {
  std::vector<std::string> mapped = mappedColumns(mapping);
  std::vector<Drift> out;
  for (const auto& c : current.columns) {
    const ColumnShape* s = accepted.find(c.name);
    if (!s)
      out.push_back(added(c.name, c.type, mapped));
    else if (s->type != c.type)
      out.push_back(retyped(*s, c.type, mapped));
  }
  for (const auto& s : accepted.columns)
    if (!current.find(s.name)) out.push_back(dropped(s, mapped));
  pairRename(out);
  return out;
}

bool SchemaDrift::decide(std::vector<Drift>& drifts, SchemaChangePolicy policy, Moment moment) {
  const bool ignoreNew = policy == SchemaChangePolicy::IgnoreNewColumns;
  bool all = true;
  for (auto& d : drifts) {
    if (moment == Moment::Streaming) {
      d.accepted = d.kind == DriftKind::Added && !d.mapped && ignoreNew;
    } else {
      switch (d.kind) {
        case DriftKind::Added:
          d.accepted = d.mapped || ignoreNew;
          break;
        case DriftKind::Dropped:
          d.accepted = !d.mapped;
          break;
        case DriftKind::Retyped:
          d.accepted = !d.mapped || d.compatible;
          break;
        case DriftKind::Renamed:
          d.accepted = !d.mapped && (d.newMapped || ignoreNew);
          break;
      }
    }
    all = all && d.accepted;
  }
  return all;
}

std::string SchemaDrift::describe(const Drift& d) {
  auto typed = [](const std::string& type) {
    return type.empty() ? std::string() : fmt::format(" ({})", type);
  };
  switch (d.kind) {
    case DriftKind::Added:
      return fmt::format("column {}{} added{}", d.column, typed(d.newType),
                         d.mapped ? ", mapped" : ", not mapped");
    case DriftKind::Dropped:
      return d.mapped
                 ? fmt::format("mapped column {}{} disappeared", d.column, typed(d.oldType))
                 : fmt::format("column {}{} (not mapped) disappeared", d.column, typed(d.oldType));
    case DriftKind::Renamed:
      return fmt::format("renamed? {} -> {}{} ({} column {} gone, {} added)", d.column, d.newColumn,
                         typed(d.newType), d.mapped ? "mapped" : "unmapped", d.column, d.newColumn);
    case DriftKind::Retyped:
      return fmt::format("{}column {} retyped {} -> {}", d.mapped ? "mapped " : "", d.column,
                         d.oldType.empty() ? "?" : d.oldType, d.newType.empty() ? "?" : d.newType);
  }
  return "";
}

int SchemaDrift::lineOf(const Drift& drift, const TableMapping& mapping) {
  for (const auto& t : mapping.targets)
    for (const auto& c : t.columns)
      if (c.source == drift.column) return c.line;
  return mapping.line;
}

std::string SchemaDrift::action(const Drift& d, const PipelineConfig& config,
                                const TableMapping& mapping) {
  std::string at = fmt::format("{}:{}", config.file, lineOf(d, mapping));
  switch (d.kind) {
    case DriftKind::Added:
      return fmt::format(
          "map {} in {} or set on_schema_change: ignore_new_columns, then start pgmorph again",
          d.column, at);
    case DriftKind::Dropped:
      return d.mapped ? fmt::format(
                            "remove {} from the mapping at {} (or add the column back on "
                            "the source), then start pgmorph again",
                            d.column, at)
                      : "start pgmorph again: a dropped column that the mapping does not read is "
                        "accepted at a start";
    case DriftKind::Renamed:
      return d.mapped ? fmt::format(
                            "if it is a rename, map {} instead of {} at {}, then start "
                            "pgmorph again",
                            d.newColumn, d.column, at)
                      : fmt::format(
                            "map {} in {} or set on_schema_change: ignore_new_columns, "
                            "then start pgmorph again",
                            d.newColumn, at);
    case DriftKind::Retyped:
      return d.mapped ? fmt::format(
                            "make the target column(s) of {} ({}) take {} (`pgmorph check "
                            "-c {}` says whether they do), then start pgmorph again",
                            d.column, at, d.newType, config.file)
                      : "start pgmorph again: a retyped column that the mapping does not read is "
                        "accepted at a start";
  }
  return "";
}

}  // namespace pgmorph
