#include "cdc/pg/PgError.h"

#include "cdc/pg/SqlState.h"

namespace pgmorph {

PgError::PgError(const std::string& message, std::string sqlstate)
    : PgmorphError(classify(sqlstate), message), sqlstate_(std::move(sqlstate)) {}

ErrorClass PgError::classify(const std::string& sqlstate) {
  return sqlstate::isTransient(sqlstate) ? ErrorClass::Transient : ErrorClass::Operator;
}

}  // namespace pgmorph
