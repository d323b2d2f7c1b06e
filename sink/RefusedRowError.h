// RefusedRowError: the target database refused one write (constraint violation, bad value,
// missing parent, a SetColumns whose row does not exist). It needs an operator (or the
// parking of that row), never a blind retry: ErrorClass::Operator.
//
// The message is a sentence a DBA can act on; the structured fields (RefusedRow) are kept
// so that the caller can park exactly that row with its reason and go on.
#pragma once

#include <cstddef>
#include <string>

#include "cdc/model/Lsn.h"
#include "cdc/pg/PgError.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

struct RefusedRow {
  std::string sourceTable;  // plan->source->sourceTable ("dispatch_notification")
  std::string legacyKey;    // write.legacyKey() ("1300"); empty for a Truncate
  std::string targetTable;  // "schema.table" as the mapping names it (not quoted)
  WriteOp op = WriteOp::Upsert;
  Lsn lsn;                     // source change position of the write
  std::size_t writeIndex = 0;  // OrderedWrite::source (see RefusalHandler.h)
  // The server's SQLSTATE; for refusals found by the sink itself: "02000" (no data) when a
  // SetColumns touched no row, "22021" when a value holds a NUL byte.
  std::string sqlstate;
  std::string message;     // the database's primary message (or the sink's own)
  std::string detail;      // the database's DETAIL ("Key (recipient_id)=(...) is not ..."),
                           // with values: never stored or logged as it is (ServerDetail.h)
  std::string constraint;  // violated constraint, when the server names one
  std::string column;      // target column(s) involved, when known (NOT NULL, foreign key)
  // Foreign-key refusal of an Upsert/SetColumns whose column is a `ref:`: the source table
  // whose row the value names (WritePlan::refTables), i.e. the parent still missing.
  std::string parentTable;
};

class RefusedRowError : public PgmorphError {
 public:
  explicit RefusedRowError(RefusedRow row);
  const RefusedRow& row() const { return row_; }

  // "target refused upsert of dispatch_notification 1300 into public.system_messages
  // (source LSN 0/1A2B3C): <message>. <detail without values> (constraint c) (column x)" —
  // never the row's values (ServerDetail.h): the reason is stored with the parked row.
  static std::string describe(const RefusedRow& row);

 private:
  RefusedRow row_;
};

}  // namespace pgmorph
