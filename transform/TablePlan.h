// TablePlan: what Transformer needs about one mapped source table, precomputed once from
// the config so that the per-change work is index lookups, not name compares:
// - "slots": the distinct source columns the table's targets read (keys, mapped columns,
//   where columns); resolve() maps a change's tuple onto them in one pass;
// - per target: key slots, the id hasher of its key table, one ColumnConverter per mapped
//   column, where tests, and for partial (mode: update) targets the owner values in
//   WritePlan::ownerColumns order.
//
// resolve() caches the last column layout seen for the new tuple and for the identity:
// wal2json sends a table's columns in the same order every time (minus unchanged TOAST),
// so the steady state is one name compare per column. Not thread-safe (one Transformer
// per thread).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "cdc/model/Change.h"
#include "transform/ColumnConverter.h"
#include "transform/Config.h"
#include "transform/IdMapper.h"
#include "transform/WritePlan.h"

namespace pgmorph {

class TablePlan {
 public:
  struct Where {
    int slot = -1;
    const WhereClause* clause = nullptr;
  };
  // One value of a partial target's Release: a converted source key column, or a constant.
  struct Owner {
    int converter = -1;  // index into Target::converters, -1 for a constant
    const std::string* constant = nullptr;
  };
  struct Target {
    const TargetMapping* mapping = nullptr;
    const WritePlan* plan = nullptr;
    std::vector<int> keySlots;    // Upsert: the row's key; Update: the column naming the row
    bool keyIsSourceKey = false;  // keySlots == the table\'s own key: reuse the legacy key
    const IdMapper::TableIds* keyIds = nullptr;  // hasher of mapping->keyTable (shared)
    std::vector<ColumnConverter> converters;     // aligned with mapping->columns
    std::vector<int> converterSlots;
    std::vector<Where> where;
    std::vector<Owner> owners;  // Update only, aligned with plan->ownerColumns
  };

  // `plans` are this table's WritePlans, aligned with table.targets.
  TablePlan(const TableMapping& table, std::span<const WritePlan> plans, const SourceConfig& source,
            IdMapper& ids);

  const TableMapping& table() const { return *table_; }
  const std::vector<int>& sourceKeySlots() const { return sourceKeySlots_; }
  const std::vector<Target>& upserts() const { return upserts_; }    // file order
  const std::vector<Target>& partials() const { return partials_; }  // file order
  std::size_t slotCount() const { return slotNames_.size(); }
  const std::string& slotName(int slot) const { return slotNames_[slot]; }

  // positions[slot] = index of that column in the change's new tuple (identity when
  // `identity`), or -1 when the tuple does not carry it.
  void resolve(const Change& change, bool identity, std::vector<int>& positions);

 private:
  struct Layout {
    std::vector<std::string> names;   // column names of the last tuple seen, in order
    std::vector<int> slotOfPosition;  // their slots (-1: not read by any target)
  };
  int slot(const std::string& column);
  Target makeTarget(const TargetMapping& m, const WritePlan& plan, const SourceConfig& source,
                    IdMapper& ids);

  const TableMapping* table_;
  std::vector<std::string> slotNames_;
  std::vector<int> sourceKeySlots_;
  std::vector<Target> upserts_;
  std::vector<Target> partials_;
  Layout columnsLayout_;
  Layout identityLayout_;
};

}  // namespace pgmorph
