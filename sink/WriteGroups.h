// WriteGroups: what ParkingApplier knows about one round's writes before it decides anything —
// the writes grouped per target row, and where each row and table is deleted, truncated or
// released. Pure bookkeeping over a span of writes (no I/O); rebuilt for every round.
//
// A group is the writes of one (plan, row) between deletes of that row (or truncates of its
// table): their net effect lands or is parked as one. Upserts and SetColumns of the same row
// form different groups (a SetColumns is a partial target's fill-in, with a parent of its own:
// its row). The decisions about a group (state, missing parent, references written NULL,
// parked entries it stands for) are kept on it by the stages that make them.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

#include "cdc/model/Lsn.h"
#include "cdc/model/Uuid.h"
#include "sink/ParentChecker.h"
#include "state/ParkedRow.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

// The value of column `i` of `w` and its state (Absent past the write's values).
std::string_view valueOf(const TargetWrite& w, std::size_t i, ValueState& state);
// Whether a plan's upserts create rows (a partial target's rows are made by another plan).
bool upsertPlan(const WritePlan& plan);

// A target row: its table (ParentChecker's index) and id.
struct RowKey {
  int table = 0;
  Uuid row;
  bool operator==(const RowKey&) const = default;
};
struct RowKeyHash {
  std::size_t operator()(const RowKey& k) const noexcept {
    return UuidHash{}(k.row) * 31 + static_cast<std::size_t>(k.table);
  }
};

struct WriteGroup {
  struct Ref {  // a reference the group's net effect makes
    const ParentRef* ref = nullptr;
    Uuid id;
    std::string text;  // the value as written
  };
  struct Nulled {  // a reference written NULL now (on_missing: null), to fill in later
    const ParentRef* ref = nullptr;
    Uuid id;
    std::string text;  // the reference it will be filled with
  };
  enum class State : std::uint8_t { Live, Parked, Dropped };

  const WritePlan* plan = nullptr;
  Uuid row;
  int table = 0;
  WriteOp op = WriteOp::Upsert;
  std::vector<std::size_t> writes;  // indices into the round's writes, source order
  std::vector<Ref> refs;
  State state = State::Live;
  const ParentRef* missing = nullptr;  // Parked: the reference that is missing
  Uuid missingId;
  std::vector<Nulled> nulled;
  std::vector<ParkedRow> carried;  // parked entries this group stands for
  bool refused = false;
};

class WriteGroups {
 public:
  // Groups `writes`; `checker` gives each write's table its index.
  void build(std::span<const TargetWrite> writes, const ParentChecker& checker);

  std::vector<WriteGroup>& all() { return groups_; }
  const std::vector<WriteGroup>& all() const { return groups_; }
  WriteGroup& operator[](int g) { return groups_[static_cast<std::size_t>(g)]; }
  const WriteGroup& operator[](int g) const { return groups_[static_cast<std::size_t>(g)]; }
  // Group of write i (-1 for a delete, truncate or release) and its table's index.
  int groupOf(std::size_t i) const { return groupOf_[i]; }
  int tableOf(std::size_t i) const { return tableOf_[i]; }
  // The first group of (plan, row, op) in the round, -1 when none.
  int firstGroup(const WritePlan* plan, const Uuid& row, WriteOp op) const;
  // The row is deleted, or its table truncated, after write `index`.
  bool goneAfter(int table, const Uuid& row, std::size_t index) const;
  // Write index of the row's last upsert (group >= 0) or delete (group -1); none: nullptr.
  struct Event {
    int group = -1;
    std::size_t index = 0;
  };
  const Event* lastEvent(int table, const Uuid& row) const;
  // Write index of the table's last truncate, -1 when none.
  long lastTruncate(int table) const;
  // The table is truncated before write `index`.
  bool truncatedBefore(int table, std::size_t index) const;
  const std::vector<std::size_t>& releases() const { return releases_; }
  const std::vector<std::size_t>& truncates() const { return truncates_; }
  // The group's net effect: its writes overlaid in source order.
  static void netEffect(std::span<const TargetWrite> writes, const WriteGroup& g, TargetWrite& out);

 private:
  struct GroupKey {
    const WritePlan* plan = nullptr;
    Uuid row;
    std::uint32_t epoch = 0;
    bool operator==(const GroupKey&) const = default;
  };
  struct GroupKeyHash {
    std::size_t operator()(const GroupKey& k) const noexcept {
      return UuidHash{}(k.row) ^ (std::hash<const void*>{}(k.plan) * 31) ^ (k.epoch * 131);
    }
  };

  std::vector<WriteGroup> groups_;
  std::vector<int> groupOf_;
  std::vector<int> tableOf_;
  std::unordered_map<GroupKey, int, GroupKeyHash> open_;
  std::unordered_map<RowKey, std::uint32_t, RowKeyHash> epoch_;
  std::unordered_map<RowKey, Event, RowKeyHash> events_;
  std::unordered_map<RowKey, std::size_t, RowKeyHash> lastDelete_;
  std::unordered_map<int, std::size_t> lastTruncate_;
  std::vector<std::size_t> releases_, truncates_;
};

}  // namespace pgmorph
