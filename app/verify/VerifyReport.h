// VerifyReport: the text and JSON forms of a VerifyResult.
//
// Text: a header with the pinned LSN and how the target was brought there, one line per
// table (expected and target rows, equal or what differs, seconds), under a different
// table its first differences — source table and legacy key, target table and id, and for a
// different row each differing column with both values (text cut at 80 characters) — and
// "... and N more" when --max-differences cut the list; then a summary line.
//
// JSON (stable; keys in this order, null for what is unknown):
//   {"file","pipeline","source_lsn","target_checkpoint","pinned_by","pause_ms","equal",
//    "seconds","max_differences",
//    "tables":[{"target_table","source_tables":[..],"columns":[..],"equal","expected_rows",
//      "target_rows","missing","extra","different","parked","unconvertible",
//      "unconvertible_samples":[..],"set_without_row","seconds","differences_shown",
//      "differences":[{"kind":"missing|extra|different|parked","source_table","legacy_key",
//        "target_table","id","on_target","expected",
//        "columns":[{"column","expected","actual"}]}]}]}
//   An error (exit 2) is {"file","error"}.
#pragma once

#include <string>

#include "app/verify/VerifyResult.h"

namespace pgmorph {

std::string verifyText(const VerifyResult& result);
std::string verifyJson(const VerifyResult& result);
std::string verifyErrorJson(const std::string& file, const std::string& error);

}  // namespace pgmorph
