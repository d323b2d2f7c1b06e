#include "transform/WriteKeys.h"

#include <stdexcept>
#include <string_view>

namespace pgmorph {

namespace {

// FNV-1a, 64 bits, over length-prefixed parts so that ("ab", "c") and ("a", "bc") differ.
class OwnerHash {
 public:
  void part(std::string_view s) {
    auto n = static_cast<std::uint32_t>(s.size());
    for (int i = 0; i < 4; ++i) byte(static_cast<unsigned char>(n >> (8 * i)));
    for (char c : s) byte(static_cast<unsigned char>(c));
  }
  // A NULL owner value: a length prefix no value has (4 GiB), so it differs from '' too.
  void null() {
    for (int i = 0; i < 4; ++i) byte(0xFF);
  }
  void table(const WritePlan& plan) {
    part(plan.targetSchema);
    part(plan.targetTable);
  }
  std::uint64_t value() const { return h_; }

 private:
  void byte(unsigned char b) {
    h_ ^= b;
    h_ *= 0x100000001b3ULL;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

// True when some element of `a` is in `b` and passes `keep`; walks the smaller set.
template <typename Set, typename Keep>
bool meet(const Set& a, const Set& b, const Keep& keep) {
  const Set& small = a.size() <= b.size() ? a : b;
  const Set& large = a.size() <= b.size() ? b : a;
  for (const auto& k : small)
    if (large.contains(k) && keep(k)) return true;
  return false;
}

template <typename Set>
bool meet(const Set& a, const Set& b) {
  return meet(a, b, [](const auto&) { return true; });
}

}  // namespace

void WriteKeys::add(std::span<const TargetWrite> writes) {
  for (const TargetWrite& w : writes) {
    // Nothing more to learn: an unkeyable batch conflicts with everything.
    if (!keyable_) return;
    addWrite(w);
  }
}

void WriteKeys::clear() {
  keyable_ = true;
  rows_.clear();
  deleted_.clear();
  upserted_.clear();
  refs_.clear();
  owners_.clear();
  // ownerIndexes_ stays: it depends on the plans only, which outlive batches.
}

void WriteKeys::addWrite(const TargetWrite& w) {
  switch (w.op) {
    case WriteOp::Upsert:
      rows_.insert(w.row);
      upserted_.try_emplace(w.row, w.plan);
      addRefs(w);
      return;
    case WriteOp::Delete:
      rows_.insert(w.row);
      deleted_.insert(w.row);
      return;
    case WriteOp::SetColumns:
      rows_.insert(w.row);
      addRefs(w);
      addSetColumnsOwner(w);
      return;
    case WriteOp::Release:
      addReleaseOwner(w);
      return;
    case WriteOp::Truncate:
      keyable_ = false;
      return;
  }
  keyable_ = false;  // an op this code does not know: be safe
}

void WriteKeys::addRefs(const TargetWrite& w) {
  const auto& refTables = w.plan->refTables;
  auto values = w.values();
  for (std::size_t i = 0; i < values.size() && i < refTables.size(); ++i) {
    if (refTables[i].empty() || values[i].state != ValueState::Present) continue;
    try {
      refs_.insert(Uuid::parse(w.text(values[i])));
    } catch (const std::invalid_argument&) {
      // The sink will reject or park it; here it names no row we can compare.
      keyable_ = false;
      return;
    }
  }
}

void WriteKeys::addSetColumnsOwner(const TargetWrite& w) {
  const auto& indexes = ownerIndexes(*w.plan);
  if (indexes.empty()) return;
  auto values = w.values();
  OwnerHash h;
  h.table(*w.plan);
  for (std::size_t i : indexes) {
    if (i >= values.size() || values[i].state == ValueState::Absent) return;
    if (values[i].state == ValueState::Null)
      h.null();
    else
      h.part(w.text(values[i]));
  }
  owners_.insert(h.value());
}

void WriteKeys::addReleaseOwner(const TargetWrite& w) {
  OwnerHash h;
  h.table(*w.plan);
  for (const WriteValue& v : w.values()) {
    // Release values are the owner values it matches on; an absent one would leave the rows it
    // releases unnamed.
    if (v.state == ValueState::Absent) {
      keyable_ = false;
      return;
    }
    if (v.state == ValueState::Null)
      h.null();
    else
      h.part(w.text(v));
  }
  owners_.insert(h.value());
}

const std::vector<std::size_t>& WriteKeys::ownerIndexes(const WritePlan& plan) {
  auto [it, inserted] = ownerIndexes_.try_emplace(&plan);
  if (!inserted) return it->second;
  std::vector<std::size_t>& indexes = it->second;
  for (const std::string& owner : plan.ownerColumns) {
    std::size_t i = 0;
    while (i < plan.columns.size() && plan.columns[i] != owner) ++i;
    if (i == plan.columns.size()) {
      indexes.clear();  // this plan's SetColumns cannot name its owner
      break;
    }
    indexes.push_back(i);
  }
  return indexes;
}

// The rule numbers are those of WriteKeys.h, which says why each one matters.
bool WriteKeys::conflicts(const WriteKeys& later,
                          const std::function<bool(const Uuid&)>& knownPresent) const {
  // 1
  if (!keyable_ || !later.keyable_) return true;
  // 2
  if (meet(rows_, later.rows_)) return true;
  // 3
  if (meet(deleted_, later.refs_) || meet(later.deleted_, refs_)) return true;
  // 4
  auto mayBeNew = [&](const Uuid& id) { return !knownPresent || !knownPresent(id); };
  auto newParent = [&](const auto& upserted, const UuidSet& refs) {
    for (const auto& [id, plan] : upserted)
      if (refs.contains(id) && mayBeNew(id)) return true;
    return false;
  };
  if (newParent(upserted_, later.refs_) || newParent(later.upserted_, refs_)) return true;
  // 5
  return meet(owners_, later.owners_);
}

void WriteKeys::unknownUpserts(const WriteKeys& later,
                               const std::function<bool(const Uuid&)>& knownPresent,
                               std::vector<std::pair<Uuid, const WritePlan*>>& out) const {
  auto collect = [&](const auto& upserted, const UuidSet& refs) {
    for (const auto& [id, plan] : upserted)
      if (refs.contains(id) && (!knownPresent || !knownPresent(id))) out.emplace_back(id, plan);
  };
  collect(upserted_, later.refs_);
  collect(later.upserted_, refs_);
}

}  // namespace pgmorph
