// What `pgmorph verify` is asked to do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgmorph {

struct VerifyOptions {
  // Target tables to compare ("orders" or "public.orders"); empty = every mapped one.
  std::vector<std::string> tables;
  bool json = false;
  // Differences listed per table (the counts are always complete).
  std::uint64_t maxDifferences = 20;
  // Tables compared at once (a source and a target session each), like snapshot --jobs.
  std::size_t jobs = 2;
};

}  // namespace pgmorph
