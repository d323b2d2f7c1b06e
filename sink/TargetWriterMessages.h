// TargetWriterMessages: the wording TargetWriter's files share for their messages — the
// server's error in its own words, and a write named by its source row and target table.
// Private to TargetWriter.cpp, TargetWriterPipeline.cpp and TargetWriterRefusals.cpp.
#pragma once

#include <fmt/format.h>

#include <string>

#include "cdc/pg/PgConnection.h"
#include "transform/TargetWrite.h"
#include "transform/WritePlan.h"

namespace pgmorph::writermessages {

// One field of the server's error report (PG_DIAG_*); empty when it has none.
inline std::string errorField(const PgResult& res, int code) {
  const char* s = res ? PQresultErrorField(res.get(), code) : nullptr;
  return s ? std::string(s) : std::string();
}

// "primary. detail (hint)": the server's words without the "ERROR:" decoration.
inline std::string describeError(const PgResult& res) {
  std::string out = errorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (out.empty()) return std::string(res.errorMessage());
  if (auto detail = errorField(res, PG_DIAG_MESSAGE_DETAIL); !detail.empty()) out += ". " + detail;
  if (auto hint = errorField(res, PG_DIAG_MESSAGE_HINT); !hint.empty()) out += " (" + hint + ")";
  return out;
}

inline std::string sourceName(const WritePlan& plan) {
  return plan.source ? plan.source->sourceTable : std::string("(unknown source table)");
}

// "upsert of dispatch_user 42 into public.profiles (source LSN 0/16B3780)"
inline std::string describeWrite(const TargetWrite& w) {
  std::string out = fmt::format("{} of {}", toString(w.op), sourceName(*w.plan));
  if (!w.legacyKey().empty()) out += fmt::format(" {}", w.legacyKey());
  return out + fmt::format(" into {} (source LSN {})", w.plan->targetName(), w.lsn.str());
}

}  // namespace pgmorph::writermessages
