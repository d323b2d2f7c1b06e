// ConfigLoaderIgnore: the optional `ignore:` list of a pipeline file — source tables the user
// means to leave out, "table" (schema public) or "schema.table":
//   ignore: [audit_log, reporting.daily_totals]
// Changes of a source table that is neither mapped nor ignored are skipped with a warning
// (follow's log, status, /metrics): a misspelled or forgotten mapping must not go unnoticed.
// Listing a table here says "on purpose". A table both mapped and ignored is refused, with the
// line of both.
#include <fmt/format.h>

#include "transform/ConfigLoaderParser.h"

namespace pgmorph::configloader {

void Parser::parseIgnore(const YAML::Node& n, PipelineConfig& cfg) const {
  r_.expectList(n, "ignore");
  for (std::size_t i = 0; i < n.size(); ++i) {
    std::string path = YamlReader::index("ignore", i);
    std::string name = r_.scalar(n[i], path);
    QualifiedName q = splitName(n[i], path, name, "source table");
    for (const auto& t : cfg.tables)
      if (t.sourceSchema == q.schema && t.sourceTable == q.table)
        r_.fail(n[i], path,
                fmt::format("source table {}.{} is both mapped (tables: {}, line {}) and ignored: "
                            "remove it from one of them",
                            q.schema, q.table, t.idName, t.line));
    for (const auto& t : cfg.ignore)
      if (t.schema == q.schema && t.table == q.table)
        r_.fail(n[i], path,
                fmt::format("source table {}.{} is listed twice (also on line {})", q.schema,
                            q.table, t.line));
    cfg.ignore.push_back({q.schema, q.table, YamlReader::line(n[i])});
  }
}

}  // namespace pgmorph::configloader
