#include "cdc/pg/PgError.h"

namespace pgmorph {

PgError::PgError(const std::string& message, std::string sqlstate)
    : PgmorphError(classify(sqlstate), message), sqlstate_(std::move(sqlstate)) {}

ErrorClass PgError::classify(const std::string& sqlstate) {
  // No SQLSTATE means libpq lost the connection or could not reach the server.
  if (sqlstate.empty()) return ErrorClass::Transient;
  // 08: connection exception; 57P0x: admin/crash shutdown, cannot connect now;
  // 40001/40P01: serialization failure, deadlock; 53: insufficient resources.
  if (sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0 ||
      sqlstate == "40001" || sqlstate == "40P01" || sqlstate.rfind("53", 0) == 0)
    return ErrorClass::Transient;
  return ErrorClass::Operator;
}

}  // namespace pgmorph
