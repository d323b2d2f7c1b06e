// SchemaDrift: how a source table's columns differ from the shape pgmorph accepted for it
// (cdc/model/TableShape.h), and whether the pipeline's `on_schema_change` lets that through.
// Pure: the stream compares each row change with the accepted shape (SchemaDrift::ofChange),
// and every start compares the source's catalog with it (SchemaDrift::ofShapes).
//
// What a change can show, and what it cannot:
//  - added: a column name the shape does not have (new tuple or old key);
//  - dropped: a shape column missing from an insert, or from an update's new tuple when the
//    column is stored plain. wal2json leaves an unchanged TOASTed value out of an update
//    (checked on PostgreSQL 15 / wal2json 2.5), so a toastable column missing from an update
//    is not a drop; the next insert, or the catalog at the next start, shows it;
//  - renamed: exactly one dropped and one added in the same comparison ("renamed?": a drop
//    and an add look the same);
//  - retyped: a column whose type differs. pgmorph asks wal2json for no types (include-types
//    costs ~20% of decode + transform, README), so the stream sees a retype by the JSON kind
//    of a value: a number or boolean column whose values now come as strings (integer -> text,
//    numeric -> text) or the reverse. A retype that keeps the kind (integer -> bigint,
//    varchar(20) -> text) is seen by the catalog check at the next start. When a change does
//    carry types, they are compared.
//
// The decision (accepted = let through), by `on_schema_change` and whether the mapping reads
// the column (`mapped`):
//  - while streaming: only an added column that is not mapped, under ignore_new_columns;
//    anything else stops before anything of its source transaction is written;
//  - at a start (the operator may have fixed the mapping): an added column that the mapping
//    now reads, or that is not mapped under ignore_new_columns; a dropped column the mapping
//    no longer reads; a retyped column that is not mapped, or whose new type the target column
//    takes (`compatible`, filled in by the caller from the catalogs); a rename when both its
//    halves would be. A mapped column that disappears always stops.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/model/TableShape.h"
#include "transform/Config.h"

namespace pgmorph {

// Not included: app/check sees SchemaDrift next to its own ValueKind (TypeCompatibility.h).
class Change;

enum class DriftKind { Added, Dropped, Renamed, Retyped };

std::string_view toString(DriftKind kind);

struct Drift {
  DriftKind kind = DriftKind::Added;
  std::string column;       // Added: the new name; Dropped, Retyped: the column; Renamed: the old
  std::string newColumn;    // Renamed: the new name
  std::string oldType;      // Dropped, Renamed, Retyped: the accepted type ("" when unknown)
  std::string newType;      // Added, Renamed, Retyped: the type now ("" when unknown)
  bool mapped = false;      // the mapping reads `column` (Renamed: the old name)
  bool newMapped = false;   // Renamed: the mapping reads the new name
  bool compatible = false;  // Retyped, mapped: the target columns take the new type (caller's)
  bool accepted = false;    // on_schema_change lets it through (decide())
};

// What JSON kind wal2json gives a non-null value of a type (format_type() text): numbers
// unquoted, booleans as true/false, the types listed as strings quoted; Any for types it does
// not know (a domain, an extension's type): those are not judged by kind.
enum class ExpectedKind : std::uint8_t { Any, Number, Bool, String };
ExpectedKind expectedKind(std::string_view type);
// expectedKind of each column of `shape`, in its order (what sameColumns takes).
std::vector<ExpectedKind> expectedKinds(const TableShape& shape);

// Source columns the mapping reads for `table` (keys, mapped columns, where: columns).
std::vector<std::string> mappedColumns(const TableMapping& table);

class SchemaDrift {
 public:
  // The drift of one row change (I, U, D) against `shape`; empty when there is none.
  static std::vector<Drift> ofChange(const TableShape& shape, const Change& change,
                                     const TableMapping& mapping);
  // The drift of the table's shape now (`current`, from the catalog) against `accepted`.
  static std::vector<Drift> ofShapes(const TableShape& accepted, const TableShape& current,
                                     const TableMapping& mapping);

  // Cheap test for the stream: true when the change's columns are exactly the shape's, in
  // order, with the same types where the change carries types. False means "look closer"
  // (ofChange), not necessarily drift: an update without its unchanged TOASTed values, a
  // delete's old key.
  // `kinds`: expectedKinds(shape).
  static bool sameColumns(const TableShape& shape, const std::vector<ExpectedKind>& kinds,
                          const Change& change);

  enum class Moment { Streaming, Start };
  // Sets each drift's `accepted` by the policy; true when all are accepted.
  static bool decide(std::vector<Drift>& drifts, SchemaChangePolicy policy, Moment moment);

  // "added column x (text), not mapped" / "renamed? a -> b" / "mapped column x (integer)
  // disappeared" / "x retyped integer -> text": one clause, for messages and the log.
  static std::string describe(const Drift& drift);
  // The line of the mapping entry a drift concerns: the column's entry when the mapping reads
  // the column, the table's otherwise.
  static int lineOf(const Drift& drift, const TableMapping& mapping);
  // What the operator does about a drift that is not accepted, naming FILE:LINE.
  static std::string action(const Drift& drift, const PipelineConfig& config,
                            const TableMapping& mapping);
};

}  // namespace pgmorph
