// PgResult owns one PGresult (freed on destruction) and gives checked, typed access.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string_view>

namespace pgmorph {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* res) : res_(res) {}

  PGresult* get() const { return res_.get(); }
  explicit operator bool() const { return res_ != nullptr; }
  ExecStatusType status() const { return PQresultStatus(res_.get()); }
  int rows() const { return PQntuples(res_.get()); }
  int columns() const { return PQnfields(res_.get()); }
  bool isNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view value(int row, int col) const {
    return std::string_view(PQgetvalue(res_.get(), row, col),
                            static_cast<std::size_t>(PQgetlength(res_.get(), row, col)));
  }
  std::string_view sqlstate() const;
  std::string_view errorMessage() const;  // trailing newline removed

 private:
  struct Deleter {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Deleter> res_;
};

}  // namespace pgmorph
