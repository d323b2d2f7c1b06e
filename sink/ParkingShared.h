// ParkingShared: what the ParkingAppliers of one pipeline know about THE TARGET, as opposed to
// what each knows about its own session. With parallel target sessions (`apply.sessions`) each
// session has its own ParkingApplier (its own connection, TargetWriter and per-batch state),
// but the target they write is one: a row one session deleted must not stay "known present"
// to another, and a row one session parked must make the others look for parked rows.
//
// Owns:
//  - the ParentChecker (the cache of rows known to exist on the target; what a session writes,
//    deletes or truncates is noted here for every session, and a rollback forgets it all);
//  - anyParked: something may be parked on the target (a superset);
//  - waited: the parent tables (checker index) parked rows wait for (a superset);
//  - refreshed: when anyParked and waited were last read from the parked table.
//
// Single-threaded: every session is driven from one thread (the sessions overlap on the
// target's side, not in this process), so nothing here is locked. Constructed over the
// transformer's plans and the catalog, which must outlive it; every applier given it must be
// built over the same ones (ParentChecker knows plans by address).
#pragma once

#include <chrono>
#include <span>
#include <unordered_set>

#include "sink/ParentChecker.h"
#include "sink/TargetCatalog.h"
#include "transform/WritePlan.h"

namespace pgmorph {

struct ParkingShared {
  ParkingShared(const TargetCatalog& catalog, std::span<const WritePlan> plans)
      : catalog(&catalog), plans(plans), checker(catalog, plans) {}
  // The appliers and their ParentGate / OrphanSweeper hold references into it.
  ParkingShared(const ParkingShared&) = delete;
  ParkingShared& operator=(const ParkingShared&) = delete;

  const TargetCatalog* catalog;  // what it was built over (checked by ParkingApplier)
  std::span<const WritePlan> plans;
  ParentChecker checker;

  bool anyParked = false;          // something may be parked (superset)
  std::unordered_set<int> waited;  // tables (checker index) parked rows wait for
  std::chrono::steady_clock::time_point refreshed;
};

}  // namespace pgmorph
