// SequenceAdvancer: sets the target's sequences past what its data holds, for the cutover (the
// stream writes rows, never sequences, so a serial or identity column the mapping fills is
// left behind its own values; the application's first insert after the switch would collide).
//
// Which sequences: those owned by a column of the given target tables (pg_depend 'a' for
// serial and OWNED BY, 'i' for identity), of an integer column, counting up. A sequence whose
// next value would not be above max(column) — nor above the floor given for that column (the
// last value of the source sequence that feeds it through the mapping) — is set with
// setval(seq, greatest(max, floor) + margin): its nextval() then returns a value past both.
// One already past them is left as it is (reported, unchanged).
//
// setval is not transactional and takes effect at once; the target role needs UPDATE on the
// sequence (or to own it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph {

struct SequenceFloor {
  std::int64_t value = 0;
  std::string from;  // "source sequence public.lib_author_id_seq"
};

struct SequenceSetting {
  std::string sequence;  // as regclass prints it
  std::string table;     // "schema.table"
  std::string column;
  std::optional<std::int64_t> before;   // last_value; nullopt: never used
  std::optional<std::int64_t> dataMax;  // max(column); nullopt: no rows
  std::optional<SequenceFloor> floor;
  std::optional<std::int64_t> after;  // the value set; nullopt: left as it was
};

class SequenceAdvancer {
 public:
  // Floors by (target "schema.table", column).
  using Floors = std::map<std::pair<std::string, std::string>, SequenceFloor>;

  SequenceAdvancer(PgConnection& target, std::int64_t margin) : target_(target), margin_(margin) {}

  // Reads the sequences of `tables` without changing them (after stays nullopt).
  std::vector<SequenceSetting> inspect(const std::vector<std::string>& tables,
                                       const Floors& floors);
  // Sets every one that is behind; returns all of them with before/after.
  std::vector<SequenceSetting> advance(const std::vector<std::string>& tables,
                                       const Floors& floors);

 private:
  std::vector<SequenceSetting> read(const std::vector<std::string>& tables, const Floors& floors,
                                    bool set);

  PgConnection& target_;
  std::int64_t margin_;
};

}  // namespace pgmorph
