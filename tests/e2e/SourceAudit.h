// SourceAudit: the source's own count of what happened to chosen legacy tables — every
// INSERT, UPDATE and DELETE of a row, by legacy id, appended by a trigger in the writing
// transaction (so it only holds committed writes, and survives a crash of the source: it is
// an ordinary logged table).
//
// It lives in its own schema `e2e_audit`, which the mapping does not name: pgmorph receives
// its changes through the slot and must ignore them as unmapped.
#pragma once

#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"

namespace pgmorph::e2e {

class SourceAudit {
 public:
  // Creates e2e_audit.events and a trigger on each of `tables` (public schema, integer `id`).
  static void install(PgConnection& source, const std::vector<std::string>& tables);
};

}  // namespace pgmorph::e2e
