// PipelineScope: libpq pipeline mode on one connection for the length of a scope. It owns
// the "connection is in pipeline mode" state: the destructor always brings the connection
// back to normal mode (sending the sync if the caller did not, and discarding every result
// not yet read), so that an exception in the middle of a batch never leaves the
// connection unusable for the ROLLBACK that follows.
#pragma once

#include "cdc/pg/PgConnection.h"

namespace pgmorph {

class PipelineScope {
 public:
  explicit PipelineScope(PgConnection& conn);  // PQenterPipelineMode; throws PgError
  ~PipelineScope();                            // never throws
  PipelineScope(const PipelineScope&) = delete;
  PipelineScope& operator=(const PipelineScope&) = delete;

  // PQpipelineSync: ends the batch (the server commits nothing; it only reports). Throws.
  void sync();
  // After the PGRES_PIPELINE_SYNC result was read: PQexitPipelineMode. Throws PgError.
  void exit();

 private:
  void drain() noexcept;
  PgConnection& conn_;
  bool synced_ = false;
  bool active_ = false;
};

}  // namespace pgmorph
