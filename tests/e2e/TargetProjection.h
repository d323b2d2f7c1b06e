// TargetProjection: what pgmorph should have written, computed independently of pgmorph.
//
// For every target table of the dispatch example (deploy/examples/dispatch), a query that
// runs ON THE SOURCE database and produces the target rows from the legacy rows, written
// straight from mapping.yaml's meaning in plain SQL: uuid-ossp's uuid_generate_v5 for ids
// and refs, renames, naive timestamps read AT TIME ZONE 'UTC', 0/1 flags as booleans, the
// status map, jsonb casts, defaults, constants, the split of dispatch_state by kind, and the
// jaws that orders name. It deliberately shares no code with pgmorph's transform: a bug
// there must show up as a difference here, not be reproduced.
//
// The source database needs the uuid-ossp extension; every query takes the id namespace as
// parameter $1 and returns the columns in `columns` order.
#pragma once

#include <string>
#include <vector>

namespace pgmorph::e2e {

struct TableProjection {
  std::string table;                 // target table (schema public)
  std::vector<std::string> columns;  // target columns compared, `id` first
  std::string sourceQuery;           // runs on the source; $1 = id namespace (uuid)
};

// Every target table of the dispatch example, parents before children.
const std::vector<TableProjection>& dispatchProjection();

}  // namespace pgmorph::e2e
