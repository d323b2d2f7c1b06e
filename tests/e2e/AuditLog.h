// AuditLog: a row-level record, kept ON THE TARGET, of every write pgmorph makes to chosen
// tables — (table, id, TG_OP) appended by an AFTER INSERT OR UPDATE OR DELETE trigger in the
// same transaction as the write, so it commits or vanishes with it.
//
// It is how the tests see exactly-once: a source transaction applied twice shows up as a
// second INSERT or as an extra UPDATE (the ON CONFLICT path of a replayed insert). The
// triggers are ENABLE ALWAYS so they fire even if pgmorph runs with
// session_replication_role = replica.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph::e2e {

struct AuditEvent {
  std::string table;
  std::string id;  // uuid text of the target row
  std::string op;  // INSERT, UPDATE or DELETE
  auto operator<=>(const AuditEvent&) const = default;
};

class AuditLog {
 public:
  // Creates public.e2e_audit and its trigger function, and a trigger on each of `tables`
  // (public schema, each with a uuid `id`). Run before pgmorph writes anything.
  static void install(PgConnection& target, const std::vector<std::string>& tables);
  // Events with seq > afterSeq, in the order they were recorded.
  static std::vector<AuditEvent> events(PgConnection& target, std::int64_t afterSeq = 0);
  // Highest seq so far (0 when empty): a mark to read only later events.
  static std::int64_t lastSeq(PgConnection& target);
};

}  // namespace pgmorph::e2e
