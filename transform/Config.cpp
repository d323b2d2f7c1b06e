#include "transform/Config.h"

namespace pgmorph {

const TableMapping* PipelineConfig::findTable(std::string_view schema,
                                              std::string_view table) const {
  for (const auto& t : tables)
    if (t.sourceTable == table && t.sourceSchema == schema) return &t;
  return nullptr;
}

const TableMapping* PipelineConfig::findTableByName(std::string_view name) const {
  auto dot = name.find('.');
  if (dot == std::string_view::npos) return findTable("public", name);
  return findTable(name.substr(0, dot), name.substr(dot + 1));
}

bool PipelineConfig::ignores(std::string_view schema, std::string_view table) const {
  for (const auto& t : ignore)
    if (t.table == table && t.schema == schema) return true;
  return false;
}

}  // namespace pgmorph
