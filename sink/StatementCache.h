// StatementCache: the prepared statements of one target connection, one per write shape
// (plan, op, which values are absent, whether a Release keeps a row). It owns their names
// and SQL text and knows which ones the server already has; statements live as long as the
// connection's session, so each shape is parsed once and then only executed.
//
// Contract: the WritePlans it is given stay alive and unchanged for the cache's life (the
// Transformer owns them for the pipeline's life); a plan is recognised by its address.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cdc/pg/PgConnection.h"
#include "sink/SqlBuilder.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

struct PreparedStatement {
  std::string name;  // server-side statement name
  std::string sql;
  bool prepared = false;  // a Parse of it succeeded on this connection
  bool queued = false;    // its Parse is queued in the pipeline being sent
};

class StatementCache {
 public:
  explicit StatementCache(PgConnection& conn);

  // The statement for this write's shape; builds its SQL on first use. The reference stays
  // valid for the cache's life. Throws std::invalid_argument for a write that does not fit
  // its plan (see SqlBuilder).
  PreparedStatement& lookup(const TargetWrite& write);
  // Forgets every statement (the session behind the connection changed: a new one has none).
  void clear();
  std::size_t size() const { return statements_.size(); }

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const SqlBuilder& builder(const WritePlan& plan);
  std::string buildSql(const TargetWrite& write);

  PgConnection& conn_;
  std::string key_;  // reused: building a key allocates nothing once warm
  std::unordered_map<const WritePlan*, std::unique_ptr<SqlBuilder>> builders_;
  std::unordered_map<std::string, PreparedStatement, KeyHash, std::equal_to<>> statements_;
};

}  // namespace pgmorph
