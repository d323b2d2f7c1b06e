#include "transform/Config.h"

namespace pgmorph {

const TableMapping* PipelineConfig::findTable(std::string_view schema,
                                              std::string_view table) const {
  for (const auto& t : tables)
    if (t.sourceTable == table && t.sourceSchema == schema) return &t;
  return nullptr;
}

}  // namespace pgmorph
