// ServerDetail: what of the server's DETAIL and CONTEXT of a refused row may be kept in a
// parked row's reason and in the log — the names, never the row's values.
//
// Why: PostgreSQL's DETAIL of a CHECK or NOT NULL refusal is "Failing row contains (...)", the
// whole row; a unique or foreign-key refusal's is "Key (email)=(x@example.com) already
// exists". Stored in the reason, that copies personal data a second time into the state
// schema (the parked write already holds the values, and is removed with the entry). So:
//   - "Key (cols)=(values) <rest>" keeps "Key (cols) <rest>" (the columns say what clashed);
//   - any other DETAIL (a row dump, or a form not known here) is dropped;
//   - a COPY CONTEXT ("COPY t, line 3, column c: \"value\"") is cut before its value.
// The constraint and column names come from their own fields (PG_DIAG_CONSTRAINT_NAME,
// PG_DIAG_COLUMN_NAME) and are kept by the callers.
#pragma once

#include <string>
#include <string_view>

namespace pgmorph {

// "" when nothing of `detail` may be kept.
std::string detailWithoutValues(std::string_view detail);
std::string copyContextWithoutValues(std::string_view context);

}  // namespace pgmorph
