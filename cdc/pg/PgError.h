// PgError: a database call failed. It carries the server's SQLSTATE and derives its
// ErrorClass from it (cdc/model/Errors.h has the classes and the errors that are not the
// database's).
#pragma once

#include <string>

#include "cdc/model/Errors.h"

namespace pgmorph {

// sqlstate is the server's code ("" for client-side failures such as a lost connection);
// the class is derived from it.
class PgError : public PgmorphError {
 public:
  PgError(const std::string& message, std::string sqlstate);
  const std::string& sqlstate() const { return sqlstate_; }

  static ErrorClass classify(const std::string& sqlstate);

 private:
  std::string sqlstate_;
};

}  // namespace pgmorph
