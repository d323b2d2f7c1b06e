// TableShape: the columns of one source table, in attribute order, as pgmorph last accepted
// them — the baseline that schema drift (transform/SchemaDrift.h) is measured against. Kept in
// the target's state schema (state/SourceShapeStore.h), read from the source's catalog.
//
// `type` is format_type(atttypid, atttypmod), which is what wal2json (include-types with its
// default include-typmod) sends for a column: "integer", "numeric(12,2)", "character
// varying(20)". `toastable` is false for columns stored plain (attstorage 'p': fixed-width
// types), whose values wal2json always sends in an update's new tuple; a toastable column is
// left out of an update when its value is an unchanged TOAST pointer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgmorph {

struct ColumnShape {
  std::string name;
  std::string type;
  bool toastable = true;
  bool operator==(const ColumnShape&) const = default;
};

struct TableShape {
  std::vector<ColumnShape> columns;

  const ColumnShape* find(std::string_view name) const {
    for (const auto& c : columns)
      if (c.name == name) return &c;
    return nullptr;
  }
  bool operator==(const TableShape&) const = default;
};

}  // namespace pgmorph
