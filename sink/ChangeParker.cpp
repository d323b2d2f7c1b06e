#include "sink/ChangeParker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sink/ChangeJson.h"
#include "sink/ParkedWriteCodec.h"
#include "transform/IdMapper.h"

namespace pgmorph {

namespace {

const std::string& nameOf(const TableMapping& t) {
  return t.idName.empty() ? t.sourceTable : t.idName;
}

std::string firstTarget(const TableMapping& t) {
  if (t.targets.empty()) return "";
  return t.targets.front().targetSchema + "." + t.targets.front().target;
}

}  // namespace

ChangeParker::ChangeParker(PgConnection& target, const PipelineConfig& config,
                           const ParkedStore& store, TableCountsMap& counts)
    : target_(&target), config_(config), store_(store), counts_(counts) {}

void ChangeParker::load() {
  parked_.clear();
  for (auto& [table, key] : store_.unconvertibleKeys(*target_)) parked_[table].insert(key);
}

std::string ChangeParker::legacyKey(const TableMapping& table, const Change& change, bool old) {
  bool identity = change.kind == ChangeKind::Delete ||
                  (old && change.kind == ChangeKind::Update && change.identityCount() > 0);
  std::string key;
  for (std::size_t i = 0; i < table.keyColumns.size(); ++i) {
    const std::string& column = table.keyColumns[i];
    const ColumnSlices* c = identity ? change.findIdentity(column) : change.findColumn(column);
    if (!c && !identity) c = change.findIdentity(column);
    if (!c || c->kind == ValueKind::Null) return "";
    std::string_view value = change.text(c->value);
    if (table.keyColumns.size() == 1) return std::string(value);
    if (i) key += ',';
    IdMapper::appendKeyPart(key, value);
  }
  return key;
}

void ChangeParker::merge(const Change& parked, const Change& later, Change& out) {
  out.clear();
  out.kind = later.kind;
  out.xid = later.xid;
  out.lsn = later.lsn;
  out.nextLsn = later.nextLsn;
  out.commitTimeMicros = later.commitTimeMicros;
  out.setSchema(later.schema());
  out.setTable(later.table());
  for (std::size_t i = 0; i < later.columnCount(); ++i) {
    ColumnView v = later.column(i);
    out.addColumn(v.name, v.type, v.value, v.kind);
  }
  // An update leaves out the values it did not change (TOAST): the parked change has them.
  if (later.kind == ChangeKind::Update)
    for (std::size_t i = 0; i < parked.columnCount(); ++i) {
      ColumnView v = parked.column(i);
      if (!later.findColumn(v.name)) out.addColumn(v.name, v.type, v.value, v.kind);
    }
  for (std::size_t i = 0; i < later.identityCount(); ++i) {
    ColumnView v = later.identity(i);
    out.addIdentity(v.name, v.type, v.value, v.kind);
  }
}

ParkedRow ChangeParker::unconvertibleRow(const TableMapping& table, const Change& change,
                                         const TransformOutcome& outcome) {
  ParkedRow r;
  r.kind = ParkKind::Unconvertible;
  r.sourceTable = nameOf(table);
  r.legacyKey = legacyKey(table, change, false);
  r.targetTable = firstTarget(table);
  r.op = "change";
  r.change = ChangeJson::encode(change);
  r.reason = outcome.problem;
  r.lsn = change.lsn;
  return r;
}

void ChangeParker::park(const TableMapping& table, const Change& change,
                        const TransformOutcome& outcome, const ParkedRow* existing) {
  ParkedRow r = unconvertibleRow(table, change, outcome);
  if (existing) {
    store_.repark(*target_, existing->id, r);
  } else {
    store_.park(*target_, r);
    ++counts_[r.sourceTable].parked;
    spdlog::debug("parked: {}", outcome.problem);
  }
  parked_[r.sourceTable].insert(r.legacyKey);
}

const Change* ChangeParker::takeParked(const TableMapping& table, const Change& change,
                                       const Prepare& prepare) {
  taken_.reset();
  auto parked = parked_.empty() ? parked_.end() : parked_.find(nameOf(table));
  if (parked == parked_.end() || parked->second.empty()) return nullptr;
  if (change.kind == ChangeKind::Truncate) {
    // Every row of the table is gone on the source: so are the reasons to keep them.
    prepare();
    store_.lock(*target_);
    std::vector<std::int64_t> ids;
    for (const auto& r : store_.unconvertibleOf(*target_, nameOf(table))) ids.push_back(r.id);
    counts_[nameOf(table)].discarded += store_.remove(*target_, ids);
    parked->second.clear();
    return nullptr;
  }
  std::string key = legacyKey(table, change, true);
  if (!parked->second.count(key)) return nullptr;
  prepare();
  store_.lock(*target_);
  std::optional<ParkedRow> entry = store_.unconvertible(*target_, nameOf(table), key);
  parked->second.erase(key);
  if (!entry) return nullptr;
  if (change.kind == ChangeKind::Delete) {
    store_.remove(*target_, std::span<const std::int64_t>(&entry->id, 1));
    ++counts_[nameOf(table)].discarded;
    return nullptr;
  }
  ChangeJson::decode(entry->change, parkedChange_);
  merge(parkedChange_, change, merged_);
  taken_ = std::move(entry);
  return &merged_;
}

void ChangeParker::settle(const TableMapping& table, const Change& change,
                          const TransformOutcome& outcome, const Prepare& prepare) {
  std::optional<ParkedRow> taken = std::move(taken_);
  taken_.reset();
  // The common change (written, nothing parked) costs no lookup here.
  if (!outcome.nulled.empty()) {
    // on_error: null — the value is lost on the target, so say which one, every time.
    spdlog::warn("{}: written as NULL", outcome.nulled);
    ++counts_[nameOf(table)].nulled;
  }
  switch (outcome.status) {
    case TransformOutcome::Status::Filtered:
      ++countsOf(table).filtered;
      break;
    case TransformOutcome::Status::Failed:
      if (outcome.policy != RowPolicy::Park) return;  // the caller stops: nothing to keep
      if (!taken) prepare();
      park(table, change, outcome, taken ? &*taken : nullptr);
      return;
    default:
      break;
  }
  if (taken) {
    store_.remove(*target_, std::span<const std::int64_t>(&taken->id, 1));
    ++counts_[nameOf(table)].unparked;
  }
}

TableCounts& ChangeParker::countsOf(const TableMapping& table) {
  // Filtered changes come in runs of one table (a `where` that drops most rows).
  if (&table != lastTable_) {
    lastTable_ = &table;
    lastCounts_ = &counts_[nameOf(table)];
  }
  return *lastCounts_;
}

bool ChangeParker::retry(const ParkedRow& row, WriteBatch& out, const Transform& transform) {
  Change change;
  ChangeJson::decode(row.change, change);
  const TableMapping* table = config_.findTable(change.schema(), change.table());
  if (!table) {
    ParkedRow again = row;
    again.reason = fmt::format("the mapping no longer has source table {}.{}: {}", change.schema(),
                               change.table(), row.reason);
    store_.repark(*target_, row.id, again);
    return false;
  }
  std::size_t before = out.size();
  TransformOutcome outcome = transform(change, out);
  if (!outcome.nulled.empty()) {
    spdlog::warn("{}: written as NULL", outcome.nulled);
    ++counts_[nameOf(*table)].nulled;
  }
  if (outcome.status == TransformOutcome::Status::Failed) {
    while (out.size() > before) out.popBack();
    park(*table, change, outcome, &row);
    return false;
  }
  store_.remove(*target_, std::span<const std::int64_t>(&row.id, 1));
  if (auto it = parked_.find(row.sourceTable); it != parked_.end()) it->second.erase(row.legacyKey);
  ++counts_[row.sourceTable].unparked;
  return true;
}

}  // namespace pgmorph
