#include "cdc/pg/PgResult.h"

namespace pgmorph {

std::string_view PgResult::sqlstate() const {
  const char* s = res_ ? PQresultErrorField(res_.get(), PG_DIAG_SQLSTATE) : nullptr;
  return s ? std::string_view(s) : std::string_view();
}

std::string_view PgResult::errorMessage() const {
  const char* s = res_ ? PQresultErrorMessage(res_.get()) : nullptr;
  std::string_view msg = s ? std::string_view(s) : std::string_view();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.remove_suffix(1);
  return msg;
}

}  // namespace pgmorph
