#include "sink/StatementCache.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace pgmorph {

namespace {
// Process-wide, so that two caches on one session (a writer re-created on the same
// connection) never ask for the same statement name.
std::atomic<std::uint64_t> statementCounter{0};
}  // namespace

StatementCache::StatementCache(PgConnection& conn) : conn_(conn) {}

void StatementCache::clear() {
  builders_.clear();
  statements_.clear();
}

const SqlBuilder& StatementCache::builder(const WritePlan& plan) {
  auto it = builders_.find(&plan);
  if (it != builders_.end()) return *it->second;
  auto quote = [this](std::string_view name) { return conn_.quoteIdent(name); };
  auto made = std::make_unique<SqlBuilder>(plan, quote);
  return *builders_.emplace(&plan, std::move(made)).first->second;
}

std::string StatementCache::buildSql(const TargetWrite& w) {
  const SqlBuilder& b = builder(*w.plan);
  switch (w.op) {
    case WriteOp::Upsert:
      return b.upsert(w.values());
    case WriteOp::Delete:
      return b.remove();
    case WriteOp::SetColumns:
      return b.setColumns(w.values());
    case WriteOp::Release:
      return b.release(w.hasRow);
    case WriteOp::Truncate:
      return b.truncate();
  }
  throw std::invalid_argument(fmt::format("unknown write op {}", static_cast<int>(w.op)));
}

PreparedStatement& StatementCache::lookup(const TargetWrite& w) {
  // Key: plan address, op, keep-row flag, then one byte per value saying absent or not
  // (NULL and a value share a statement: both are a parameter).
  key_.clear();
  const WritePlan* plan = w.plan;
  key_.append(reinterpret_cast<const char*>(&plan), sizeof plan);
  key_.push_back(static_cast<char>(w.op));
  if (w.op == WriteOp::Upsert || w.op == WriteOp::SetColumns) {
    auto values = w.values();
    // An Upsert's id slot is always written (from `row`), whatever its state says.
    for (std::size_t i = w.op == WriteOp::Upsert ? 1 : 0; i < values.size(); ++i)
      key_.push_back(values[i].state == ValueState::Absent ? 'a' : 'p');
    key_.push_back('.');  // ends the mask: shapes of different arity never share a key
  } else if (w.op == WriteOp::Release) {
    key_.push_back(w.hasRow ? 'k' : 'n');
  }
  auto it = statements_.find(std::string_view(key_));
  if (it != statements_.end()) return it->second;
  PreparedStatement st;
  st.sql = buildSql(w);
  st.name = fmt::format("pgmorph_sink_{}", ++statementCounter);
  return statements_.emplace(key_, std::move(st)).first->second;
}

}  // namespace pgmorph
