// The error classes every stage throws: PgmorphError carries an ErrorClass that tells the
// pipeline's edge, the one place that catches them, what to do (retry after a pause, or stop
// and tell the operator). ConfigError is the operator's configuration being wrong.
//
// No libpq here: a database failure (PgError, with its SQLSTATE) is cdc/pg/PgError.h, which
// builds on these. transform and state include this header, not that one, for these types.
#pragma once

#include <stdexcept>
#include <string>

namespace pgmorph {

enum class ErrorClass {
  Transient,  // connection lost, server restarting: retry with backoff
  Operator,   // needs a person: bad config, lost slot, refused row, missing plugin
};

class PgmorphError : public std::runtime_error {
 public:
  PgmorphError(ErrorClass cls, const std::string& message)
      : std::runtime_error(message), class_(cls) {}
  ErrorClass errorClass() const { return class_; }

 private:
  ErrorClass class_;
};

class ConfigError : public PgmorphError {
 public:
  explicit ConfigError(const std::string& message) : PgmorphError(ErrorClass::Operator, message) {}
};

}  // namespace pgmorph
