#include "cdc/pg/PgError.h"

#include "cdc/pg/SqlState.h"

namespace pgmorph {

std::string sideOfRole(std::string_view role) {
  if (role.starts_with("target")) return "target";
  if (role.starts_with("source") || role.starts_with("replication")) return "source";
  return {};
}

PgError::PgError(const std::string& message, std::string sqlstate, std::string side)
    : PgmorphError(classify(sqlstate), message),
      sqlstate_(std::move(sqlstate)),
      side_(std::move(side)) {}

ErrorClass PgError::classify(const std::string& sqlstate) {
  return sqlstate::isTransient(sqlstate) ? ErrorClass::Transient : ErrorClass::Operator;
}

}  // namespace pgmorph
