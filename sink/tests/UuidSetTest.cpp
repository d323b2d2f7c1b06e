// UuidSet against std::unordered_set on the same random operations: the same answers for
// every insert, erase and lookup, through growth, heavy erasing (the backward shift) and
// clear().
#include "sink/UuidSet.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_set>
#include <vector>

namespace pgmorph {
namespace {

Uuid randomId(std::mt19937_64& rng) {
  Uuid id;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = rng();
    for (int b = 0; b < 8; ++b) id.bytes[half * 8 + b] = static_cast<std::uint8_t>(v >> (8 * b));
  }
  return id;
}

TEST(UuidSetTest, AnswersAsTheLibrarySetDoesThroughInsertsErasesAndGrowth) {
  std::mt19937_64 rng(42);
  std::vector<Uuid> pool;
  for (int i = 0; i < 5000; ++i) pool.push_back(randomId(rng));
  UuidSet set;
  std::unordered_set<Uuid, UuidHash> model;
  std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
  for (int step = 0; step < 200000; ++step) {
    const Uuid& id = pool[pick(rng)];
    switch (rng() % 3) {
      case 0:
        ASSERT_EQ(set.insert(id), model.insert(id).second) << step;
        break;
      case 1:
        ASSERT_EQ(set.erase(id), model.erase(id) == 1) << step;
        break;
      default:
        ASSERT_EQ(set.contains(id), model.count(id) == 1) << step;
    }
    ASSERT_EQ(set.size(), model.size());
  }
  for (const Uuid& id : pool) ASSERT_EQ(set.contains(id), model.count(id) == 1);
}

TEST(UuidSetTest, KeysThatShareTheirHomeSlotSurviveTheEraseOfOneOfThem) {
  // Ids that differ only in bytes the hash mixes the same way collide often in a small
  // table; erasing from the middle of a run must keep the rest findable.
  UuidSet set;
  std::vector<Uuid> ids;
  for (int i = 0; i < 30; ++i) {
    Uuid id;
    id.bytes[15] = static_cast<std::uint8_t>(i);
    ids.push_back(id);
    ASSERT_TRUE(set.insert(id));
  }
  for (int i = 0; i < 30; i += 3) ASSERT_TRUE(set.erase(ids[i]));
  for (int i = 0; i < 30; ++i) EXPECT_EQ(set.contains(ids[i]), i % 3 != 0) << i;
  EXPECT_EQ(set.size(), 20u);
  set.clear();
  EXPECT_EQ(set.size(), 0u);
  for (const Uuid& id : ids) EXPECT_FALSE(set.contains(id));
  EXPECT_TRUE(set.insert(ids[4]));
  EXPECT_TRUE(set.contains(ids[4]));
}

}  // namespace
}  // namespace pgmorph
