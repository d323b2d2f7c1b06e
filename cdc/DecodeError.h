// DecodeError: a wal2json message that pgmorph cannot turn into a Change. It needs a
// person (a different plugin version or format, or a bug), so it is an Operator error;
// retrying would fail on the same message forever, since the slot resends it.
#pragma once

#include <string>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgError.h"

namespace pgmorph {

class DecodeError : public PgmorphError {
 public:
  DecodeError(const std::string& message, Lsn at)
      : PgmorphError(ErrorClass::Operator, message), lsn_(at) {}
  // Position of the message in the stream (the XLogData start).
  Lsn lsn() const { return lsn_; }

 private:
  Lsn lsn_;
};

}  // namespace pgmorph
