// ParkedWriteCodec: the translation between what the apply path holds (TargetWrites, source
// Changes) and what the state schema keeps (ParkedRow). It owns an index of the
// transformer's WritePlans by their identity, so a parked write decodes against the mapping
// that is loaded now; it never re-derives the mapping.
//
// What is kept, and why:
//  - a write that was transformed but could not land (missing parent, refused) is kept as the
//    write itself: op, plan identity, row id, and its values by target column name with their
//    state (present, NULL, absent). Re-applying it needs no source data and no transform,
//    and a later write of the same row merges into it value by value.
//  - a change that could not be transformed (on_error: park) is kept as the source change
//    (sink/ChangeJson.h) and transformed again when it is retried.
// Values are keyed by column name: a parked write whose plan or columns are gone from the
// mapping does not decode (decode() says which), rather than landing in the wrong columns.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cdc/model/Change.h"
#include "state/ParkedRow.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph {

class ParkedWriteCodec {
 public:
  // `plans` (the transformer's) must outlive the codec.
  explicit ParkedWriteCodec(std::span<const WritePlan> plans);

  // "dispatch_instruction>public.jaws[update:upper_jaw_id]": source table (as written in the
  // file), target table, mode and the source key columns. Stable across restarts and
  // reorderings of the mapping file.
  static std::string planKey(const WritePlan& plan);
  static std::string_view opName(WriteOp op);
  // The source table as the state schema names it (the mapping's idName).
  static std::string sourceName(const WritePlan& plan);

  // The write's fields of a ParkedRow (kind, reason and what it waits for are the caller's).
  static ParkedRow encode(const TargetWrite& w);
  // Rebuilds a parked write into `out` (cleared first). False, with `why`, when the loaded
  // mapping no longer has its plan or one of its columns, or the row is not a parked write.
  bool decode(const ParkedRow& row, TargetWrite& out, std::string& why) const;
  const WritePlan* plan(const std::string& key) const;

 private:
  std::unordered_map<std::string, const WritePlan*> plans_;
};

// Editing writes without touching the original (TargetWrite keeps its text in an arena, so
// a value is changed by rebuilding the write).
namespace WriteEdits {
// `out` = `base` with every non-Absent value of `later` written over it (same plan and row;
// `later`'s op, lsn and legacy key win). The net effect of base followed by later.
void overlay(const TargetWrite& base, const TargetWrite& later, TargetWrite& out);
// `out` = `in` with value `index` set to NULL.
void withNull(const TargetWrite& in, std::size_t index, TargetWrite& out);
// `out` = `in` with value `index` set to `text` (present).
void withValue(const TargetWrite& in, std::size_t index, std::string_view text, TargetWrite& out);
// A one-column SetColumns of `plan` on `row` writing `text` into column `index` (the other
// values absent): how an on_missing: null reference is filled in later.
void fillReference(const WritePlan& plan, const Uuid& row, std::string_view legacyKey,
                   std::size_t index, std::string_view text, Lsn lsn, TargetWrite& out);
}  // namespace WriteEdits

}  // namespace pgmorph
