// IdMapper: legacy key -> UUID, the rule every stage and every run must agree on
// (ARCHITECTURE.md invariant 9):
//
//   id = uuid_v5(namespace, "<source table>:<key>")
//
// which equals PostgreSQL's uuid-ossp `uuid_generate_v5(namespace, name)`, so a DBA can
// compute the same id in SQL ('dispatch_office:' || id).
//
// - <source table> is the source table's name as written in the pipeline file
//   (TableMapping::idName), e.g. "dispatch_office".
// - <key> is the legacy value as wal2json sends it: numbers as their exact text ("42",
//   "12345678901234"), booleans "true"/"false", other types their PostgreSQL text output.
// - A composite key (several key columns) joins its parts, in key-column order, with ','
//   after escaping '\' as "\\" and ',' as "\," inside each part. The parts ("a,b", "c")
//   give "a\,b,c" and ("a", "b,c") give "a,b\,c": different keys never share a name. A
//   single-column key is used as is, unescaped ("t:a,b" for the one part "a,b"); a table's
//   key always has the same number of columns, so that is unambiguous too.
//
// TableIds holds the hash state after "<namespace><table>:" so that each id only hashes
// the key (one SHA-1 block for keys up to 55 - 16 - len(table) - 1 bytes), allocation free,
// and remembers the last ids it computed for short keys (a small direct-mapped memo): one
// change names the same parent several times (an order's id in its row, and in both jaws it
// fills), and rows of a table point at few parents. The memo makes a TableIds unsafe to
// share between threads; each Transformer owns its IdMapper and its TableIds.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/Uuid.h"
#include "transform/Sha1.h"

namespace pgmorph {

class IdMapper {
 public:
  explicit IdMapper(const Uuid& ns);

  class TableIds {
   public:
    // uuid_v5(ns, "<table>:<key>") for a single-column key.
    Uuid operator()(std::string_view key) const;
    // The same for a composite key (parts escaped and joined as described above).
    Uuid composite(std::span<const std::string_view> parts) const;
    const std::string& table() const { return table_; }

   private:
    friend class IdMapper;
    // Enough slots for the parents a stream keeps naming (a few hundred recipients,
    // patients, doctors, offices, open orders): 40 kB per referenced table.
    static constexpr std::size_t kMemoSlots = 1024;
    static constexpr std::size_t kMemoKeyBytes = 22;  // longer keys are not remembered
    struct MemoSlot {
      std::uint8_t length = 0xFF;  // 0xFF: empty
      char key[kMemoKeyBytes];
      Uuid id;
    };
    Uuid compute(std::string_view key) const;

    Sha1 prefix_;
    std::string table_;
    mutable std::vector<MemoSlot> memo_;  // allocated on first use
  };

  // The hasher of one source table's names (`table` as written in the pipeline file).
  TableIds forTable(std::string_view table) const;
  // The same, shared: one per table name for this IdMapper's life (so the users of one
  // table share its memo). The reference stays valid while the IdMapper lives.
  const TableIds& shared(std::string_view table);

  Uuid id(std::string_view table, std::string_view key) const;
  Uuid id(std::string_view table, std::span<const std::string_view> parts) const;

  // The <key> text of a composite key (what legacy_id columns and messages show).
  // appendKeyPart appends one part with its escapes (the caller writes the ',' between).
  static void appendKeyPart(std::string& out, std::string_view part);
  static void appendCompositeKey(std::string& out, std::span<const std::string_view> parts);
  static std::string compositeKey(std::span<const std::string_view> parts);

  const Uuid& ns() const { return ns_; }

 private:
  Uuid ns_;
  std::map<std::string, std::unique_ptr<TableIds>, std::less<>> shared_;
};

}  // namespace pgmorph
