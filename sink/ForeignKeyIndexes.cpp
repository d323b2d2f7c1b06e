#include "sink/ForeignKeyIndexes.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <set>

#include "sink/UnindexedForeignKeys.h"
#include "transform/Sha1.h"

namespace pgmorph {

namespace {

constexpr std::size_t kMaxIdentifier = 63;  // NAMEDATALEN - 1: longer names are cut by the server
constexpr std::string_view kSuffix = "_fkidx";

// `s` cut to at most `bytes` bytes without splitting a UTF-8 sequence.
std::string_view cutUtf8(std::string_view s, std::size_t bytes) {
  if (s.size() <= bytes) return s;
  while (bytes > 0 && (static_cast<unsigned char>(s[bytes]) & 0xC0) == 0x80) --bytes;
  return s.substr(0, bytes);
}

std::string hex8(std::string_view s) {
  Sha1 sha;
  sha.update(s);
  auto digest = sha.finish();
  return fmt::format("{:02x}{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2], digest[3]);
}

}  // namespace

std::string foreignKeyIndexName(std::string_view table, const std::vector<std::string>& columns,
                                int attempt) {
  std::string base = fmt::format("{}_{}", table, fmt::join(columns, "_"));
  std::string tail = attempt > 1 ? fmt::format("_{}{}", attempt, kSuffix) : std::string(kSuffix);
  if (base.size() + tail.size() <= kMaxIdentifier) return base + tail;
  std::string hash = "_" + hex8(base);
  return fmt::format("{}{}{}", cutUtf8(base, kMaxIdentifier - tail.size() - hash.size()), hash,
                     tail);
}

std::size_t recordForeignKeyIndexes(PgConnection& target, const SuspendedDdlStore& store,
                                    const std::vector<std::string>& parents) {
  std::set<std::string> recorded;  // schema + '.' + name given in this call
  std::size_t count = 0;
  for (const auto& fk : findUnindexedForeignKeys(target, parents)) {
    std::string name;
    for (int attempt = 1;; ++attempt) {
      name = foreignKeyIndexName(fk.childTable, fk.columnNames, attempt);
      if (recorded.count(fk.childSchema + '.' + name)) continue;
      auto taken = target.execParams(
          "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
          " WHERE n.nspname = $1 AND c.relname = $2)",
          {fk.childSchema, name});
      if (taken.value(0, 0) != "t") break;
    }
    recorded.insert(fk.childSchema + '.' + name);
    SuspendedDdl d;
    d.kind = DdlKind::Index;
    d.schema = fk.childSchema;
    d.table = fk.childTable;
    d.name = name;
    std::vector<std::string> quoted;
    for (const auto& c : fk.columnNames) quoted.push_back(target.quoteIdent(c));
    d.definition =
        fmt::format("CREATE INDEX {} ON {} ({})", target.quoteIdent(name),
                    target.quoteQualified(fk.childSchema, fk.childTable), fmt::join(quoted, ", "));
    store.recordSuspended(target, d);
    ++count;
    spdlog::info(
        "snapshot.index_foreign_keys: building index {} on {} ({}) for foreign key {} after the "
        "copy: each delete of a row of {} scans {} otherwise",
        name, fk.child, fk.columns, fk.constraint, fk.parent, fk.child);
  }
  return count;
}

}  // namespace pgmorph
