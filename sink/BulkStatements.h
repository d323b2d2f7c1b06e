// BulkStatements: sends a run of same-shaped writes as ONE multi-row statement (see
// BulkSqlBuilder) into the connection's pipeline. It owns, per connection session, the
// column types of the plans it has seen (read from the target's catalog) and the array
// buffers it fills, reused run after run.
//
// Why multi-row statements, measured on the dispatch target (same machine, same run, 2
// cores shared with other work; 6 target transactions per mode, each a batch of ~4,400
// writes of the OLTP mix: new orders with their jaws (upserts, releases, set-columns) and
// files, status updates, notifications, patient updates, file deletes):
//                                      no index on jaws.order_id   with that index
//   per-row pipeline (the former          5,400 writes/s          24,700 writes/s
//     apply(): one prepared statement per write)
//   applyOrdered() (~14 statements           43,100 writes/s          44,600 writes/s
//     per batch, one round trip)
// Without the index every per-row release scans jaws; a release run joins its arrays with
// jaws once. An earlier run of the same comparison under heavier load gave 3,200 / 12,000
// against 22,000-27,000: the ratio holds. A savepoint per batch costs nothing measurable.
//
// Each column goes as a binary array of its own type where every value of the run converts
// exactly (BinaryArray: uuid, integers, numeric, boolean, date, timestamps, text types,
// jsonb), else as a text array cast on the server, as before.
//
// The statements are sent unnamed (parsed and planned per run), not prepared: a generic
// plan would guess the length of the arrays, and a release run joins its arrays with the
// table; planned with the real arrays, it hashes them once. Short runs do not pay for the
// planning: they go row by row (kMinRun).
//
// Contract: the WritePlans outlive this object; call loadTypes() outside a pipeline before
// send() sees a plan; clear() when the session behind the connection changes.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cdc/pg/ArrayLiteral.h"
#include "cdc/pg/PgConnection.h"
#include "sink/BinaryArray.h"
#include "sink/BulkSqlBuilder.h"
#include "transform/TargetWrite.h"

namespace pgmorph {

class BulkStatements {
 public:
  // Runs shorter than this go one statement per write: planning a multi-row statement
  // costs about as much as a few prepared one-row executions.
  static constexpr std::size_t kMinRun = 4;

  explicit BulkStatements(PgConnection& conn);

  // Reads the column types of `plan`'s table if not known yet (one catalog query per table;
  // not in pipeline mode). A plan whose table or columns the catalog does not have is
  // remembered as not bulkable: its writes go one by one, and the one-row statement reports
  // what is wrong.
  void loadTypes(const WritePlan& plan);
  // The write has a multi-row form: Upsert, Delete, Release, or a SetColumns writing at
  // least one column, of a plan whose types are known.
  bool bulkable(const TargetWrite& w) const;
  // Two writes that one multi-row statement can carry: same plan, same op, same absent
  // columns.
  static bool sameShape(const TargetWrite& a, const TargetWrite& b);

  // Queues the multi-row statement for `run` (bulkable writes of one shape, distinct rows)
  // in the connection's pipeline. Returns false, queueing nothing, when a value holds a NUL
  // byte (the caller sends that run row by row, which names the row). Throws PgError when
  // libpq cannot queue it.
  bool send(std::span<const TargetWrite* const> run);
  // SQL text of the last statement send() queued (for messages).
  const std::string& lastSql() const { return sql_; }

  void clear();

 private:
  // A plan's multi-row form on this target: its statements and, per column, the binary type
  // its values may travel as (nullopt: always a text array).
  struct Plan {
    std::unique_ptr<BulkSqlBuilder> builder;  // its types() name each column's type
    std::optional<BinaryType> id;
    std::vector<std::optional<BinaryType>> columns, owners;
  };
  // One array parameter of a run: which value of each write it carries and how it is sent.
  struct Param {
    enum class From : std::uint8_t { RowId, Value } from = From::Value;
    std::size_t value = 0;  // index into the write's values() (From::Value)
    std::optional<BinaryType> binary;
    std::string_view columnType;  // as format_type() spells it
  };

  const Plan* plan(const WritePlan& plan) const;
  bool fill(const Plan& plan, std::span<const TargetWrite* const> run);
  bool fillParam(std::size_t p, std::span<const TargetWrite* const> run);
  // The text a write gives parameter `param` (its row id formatted into `id`), or nullopt for
  // NULL: a Release that keeps no row, a NULL value.
  static std::optional<std::string_view> textOf(const TargetWrite& w, const Param& param,
                                                char (&id)[36]);

  PgConnection& conn_;
  // builder nullptr: the plan has no multi-row form on this target.
  std::unordered_map<const WritePlan*, Plan> plans_;
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> tableTypes_;
  std::vector<Param> params_;
  std::vector<ArrayLiteral> texts_;
  std::vector<BinaryArray> binaries_;
  std::vector<std::string_view> paramTypes_;  // BulkSqlBuilder::ParamTypes of the run
  std::vector<const char*> pointers_;
  std::vector<int> lengths_, formats_;
  std::vector<Oid> oids_;
  std::string sql_;
};

}  // namespace pgmorph
