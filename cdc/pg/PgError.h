// PgError: a database call failed. It carries the server's SQLSTATE and derives its
// ErrorClass from it (cdc/model/Errors.h has the classes and the errors that are not the
// database's).
#pragma once

#include <string>
#include <string_view>

#include "cdc/model/Errors.h"

namespace pgmorph {

// The database a connection role talks to: "target" for "target" and "target (...)", "source"
// for "source" and "replication", "" for anything else. Names the outage in the log
// ("target lost: ...") and the pipeline file's key to fix ("target.conninfo").
std::string sideOfRole(std::string_view role);

// sqlstate is the server's code ("" for client-side failures such as a lost connection);
// the class is derived from it. side is sideOfRole() of the connection that failed ("" when
// unknown).
class PgError : public PgmorphError {
 public:
  PgError(const std::string& message, std::string sqlstate, std::string side = {});
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& side() const { return side_; }

  static ErrorClass classify(const std::string& sqlstate);

 private:
  std::string sqlstate_;
  std::string side_;
};

}  // namespace pgmorph
