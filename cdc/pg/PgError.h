// Error types shared by every stage. The pipeline's edge is the one place that catches
// them and decides what to do (ErrorClass says how: retry after a pause, or stop and tell
// the operator).
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

// A database call failed. sqlstate is the server's code ("" for client-side failures such
// as a lost connection); the class is derived from it.
class PgError : public PgmorphError {
 public:
  PgError(const std::string& message, std::string sqlstate);
  const std::string& sqlstate() const { return sqlstate_; }

  static ErrorClass classify(const std::string& sqlstate);

 private:
  std::string sqlstate_;
};

class ConfigError : public PgmorphError {
 public:
  explicit ConfigError(const std::string& message) : PgmorphError(ErrorClass::Operator, message) {}
};

}  // namespace pgmorph
