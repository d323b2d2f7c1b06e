// ParkingExpectation: which rows of the dispatch example pgmorph must park, computed from the
// source in plain SQL, independently of pgmorph (its own rules, written from mapping.yaml and
// target.sql, not from pgmorph's code):
//   - users whose e-mail fails profiles' CHECK: refused (profiles);
//   - doctors of those users: waiting for their profile (doctors.profile_id, on_missing park);
//   - patients and orders of those doctors: written with doctor_id NULL, the reference kept to
//     fill in (on_missing: null);
//   - notifications whose template_context is not JSON: unconvertible (on_error: park);
//   - other notifications whose recipient is missing or refused: waiting for their profile.
// It lives in the given source session as temporary objects (a function and tables), so the
// expected target — the projection minus the parked rows, with the NULLed references — can be
// compared by TargetComparison in that same session.
#pragma once

#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "tests/e2e/TargetProjection.h"

namespace pgmorph::e2e {

class ParkingExpectation {
 public:
  // Computes the expectation from the source's current rows (in `source`'s session).
  ParkingExpectation(PgConnection& source, const std::string& idNamespace);

  // "kind|target table|legacy key|missing table|missing id", sorted.
  const std::vector<std::string>& expected() const { return expected_; }
  // The same read from the target's parked table.
  static std::vector<std::string> actual(PgConnection& target, const std::string& stateSchema,
                                         const std::string& pipeline);
  // What differs between two such lists (first `max` of each side), "" when equal.
  static std::string difference(const std::vector<std::string>& expected,
                                const std::vector<std::string>& actual, std::size_t max = 10);
  // dispatchProjection() minus the rows expected parked, with NULLed references as NULL.
  // Its queries read this session's temporary tables: run them on the same connection.
  std::vector<TableProjection> projection() const;

  // Makes the source clean: inserts the missing recipients, corrects the e-mails and the JSON.
  static void fixSource(PgConnection& source);

 private:
  PgConnection& source_;
  std::vector<std::string> expected_;
  std::vector<std::pair<std::string, std::string>> nulled_;  // (target table, column)
};

}  // namespace pgmorph::e2e
