// CommittedRows: ids of rows known to be committed on the target, per target table, shared by
// the threads of one snapshot run (each copy worker has its own ParentChecker and session).
//
// Why: a worker checks the parents of the rows it copies against the target (ParentChecker:
// one `SELECT id ... = ANY($1)` per parent table and batch), and its cache only holds what
// that worker saw. The rows of a parent table are nearly always loaded by another worker, so
// every worker asked the target about them again: at scale 40, 186,400 ids in 94 statements,
// 0.46 s of the target's statement time in a 2.5 s snapshot. A worker now publishes what it
// knows present when its transaction commits, and the others look there before asking.
//
// Contract:
//  - Only committed facts go in: a ParentChecker publishes what it noted during a transaction
//    only after that transaction committed (ParentChecker::committed()); what it noted in a
//    transaction that rolled back is dropped with its own cache (forget()).
//  - A row that pgmorph takes off the target (a parked row, a delete, a truncate) is removed
//    at once, before its transaction commits: until then other sessions still see it, so
//    forgetting it early only costs a lookup. While the snapshot's workers run, the only rows
//    taken off are ones the same unit wrote (OrphanSweeper, before its commit), which were
//    never published; so a worker that found a row present and publishes it after its own
//    commit cannot bring back a row another worker took off.
//  - Bounded: at most `limit` ids in all; past it, ids are no longer added (the workers look
//    them up on the target, as before). 34 bytes per id at most (UuidSet is at most half full).
//  - Thread-safe (one shared_mutex; readers take it once per batch of ids, not per id).
#pragma once

#include <cstddef>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cdc/model/Uuid.h"
#include "sink/UuidSet.h"

namespace pgmorph {

class CommittedRows {
 public:
  explicit CommittedRows(std::size_t limit = kDefaultLimit) : limit_(limit) {}
  CommittedRows(const CommittedRows&) = delete;
  CommittedRows& operator=(const CommittedRows&) = delete;

  static constexpr std::size_t kDefaultLimit = 1'000'000;

  // `table` is "schema.table".
  void add(const std::string& table, std::span<const Uuid> ids);
  void remove(const std::string& table, const Uuid& id);
  void removeTable(const std::string& table);
  // Sets found[i] to 1 for each ids[i] known committed; leaves the other entries as they are.
  // `found` has ids.size() entries. Returns how many it set.
  std::size_t find(const std::string& table, std::span<const Uuid> ids,
                   std::vector<char>& found) const;
  std::size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, UuidSet> tables_;
  std::size_t size_ = 0;
  std::size_t limit_;
};

}  // namespace pgmorph
