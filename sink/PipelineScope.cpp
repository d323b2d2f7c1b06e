#include "sink/PipelineScope.h"

namespace pgmorph {

PipelineScope::PipelineScope(PgConnection& conn) : conn_(conn) {
  if (PQenterPipelineMode(conn_.get()) != 1) conn_.throwConnectionError("entering pipeline mode");
  active_ = true;
}

PipelineScope::~PipelineScope() {
  if (!active_) return;
  drain();
  if (PQexitPipelineMode(conn_.get()) != 1) {
    PgResult rest(PQgetResult(conn_.get()));
    PQexitPipelineMode(conn_.get());
  }
}

void PipelineScope::sync() {
  if (PQpipelineSync(conn_.get()) != 1) conn_.throwConnectionError("sending the pipeline sync");
  synced_ = true;
}

void PipelineScope::exit() {
  if (PQexitPipelineMode(conn_.get()) != 1) {
    // libpq may still hold the NULL that ends the sync's results.
    PgResult rest(PQgetResult(conn_.get()));
    if (PQexitPipelineMode(conn_.get()) != 1) conn_.throwConnectionError("leaving pipeline mode");
  }
  active_ = false;
}

void PipelineScope::drain() noexcept {
  PGconn* pg = conn_.get();
  if (!synced_) {
    if (PQpipelineSync(pg) != 1) return;  // connection gone: nothing left to read
    synced_ = true;
  }
  // A NULL ends one command's results; two in a row mean nothing is pending any more.
  int nulls = 0;
  while (PQstatus(pg) == CONNECTION_OK) {
    PgResult r(PQgetResult(pg));
    if (!r) {
      if (++nulls >= 2) return;
      continue;
    }
    nulls = 0;
    if (r.status() == PGRES_PIPELINE_SYNC) return;
  }
}

}  // namespace pgmorph
