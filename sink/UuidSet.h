// UuidSet: a set of Uuids in one flat table (open addressing, linear probing, power-of-two
// capacity, at most half full), for the parent checker's cache of rows known to exist — the
// set every row of a snapshot and every reference of a change is looked up in.
//
// Hand-written because it measures faster than the library set it replaces: a perf profile of
// `pgmorph snapshot` (scale 40, --jobs 4) put 16% of pgmorph's CPU in std::unordered_set<Uuid>
// (finding the node, comparing keys, the hash, a node allocated per insert), and
// tests/bench/UuidSetBench.cpp compares the two on the same keys (results in
// tests/bench/README.md). Debian 12's Boost (1.74) has no flat set (unordered_flat_set came in
// 1.81).
//
// Keys are UUIDv5 (SHA-1 output), uniformly spread, so the hash is a multiply of their bits.
// Erase shifts the following entries back (no tombstones), so a set that sees many inserts
// and erases never slows down. Not thread-safe; iterators are not offered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cdc/model/Uuid.h"

namespace pgmorph {

class UuidSet {
 public:
  bool contains(const Uuid& id) const;
  // True when `id` was not in the set.
  bool insert(const Uuid& id);
  // True when `id` was in the set.
  bool erase(const Uuid& id);
  void clear();  // keeps the capacity
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    Uuid id;
    bool used = false;
  };
  std::size_t home(const Uuid& id) const;
  void grow();

  std::vector<Slot> slots_;  // empty, or a power of two
  std::size_t size_ = 0;
};

}  // namespace pgmorph
