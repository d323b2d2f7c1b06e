#include "cdc/SlotManager.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

Lsn lsnOrZero(const PgResult& res, int row, int col) {
  return res.isNull(row, col) ? Lsn() : Lsn::parse(res.value(row, col));
}

std::string textOrEmpty(const PgResult& res, int row, int col) {
  return res.isNull(row, col) ? std::string() : std::string(res.value(row, col));
}

// output_plugin_libraries is a list like shared_preload_libraries: entries separated by commas,
// white space around them ignored, an entry in double quotes may hold commas and spaces ("" is
// a quote in it). The server compares the entries with the plugin name exactly.
std::vector<std::string> splitList(std::string_view list) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  auto skipSpace = [&] {
    while (pos < list.size() && (list[pos] == ' ' || list[pos] == '\t' || list[pos] == '\n')) ++pos;
  };
  while (true) {
    skipSpace();
    std::string item;
    if (pos < list.size() && list[pos] == '"') {
      for (++pos; pos < list.size(); ++pos) {
        if (list[pos] != '"') {
          item += list[pos];
        } else if (pos + 1 < list.size() && list[pos + 1] == '"') {
          item += '"';
          ++pos;
        } else {
          ++pos;
          break;
        }
      }
    } else {
      std::size_t end = list.find(',', pos);
      if (end == std::string_view::npos) end = list.size();
      item = list.substr(pos, end - pos);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t' || item.back() == '\n'))
        item.pop_back();
      pos = end;
    }
    if (!item.empty()) out.push_back(std::move(item));
    skipSpace();
    if (pos >= list.size() || list[pos] != ',') break;
    ++pos;
  }
  return out;
}

// An entry as ALTER SYSTEM SET output_plugin_libraries = ... takes it: a plain lower-case name
// as it is, anything else in double quotes.
std::string listEntry(const std::string& item) {
  bool plain = !item.empty();
  for (char c : item)
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (plain) return item;
  std::string quoted = "\"";
  for (char c : item) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// Whether a CREATE_REPLICATION_SLOT ... LOGICAL wal2json that failed with 42501
// (insufficient_privilege) was refused because output_plugin_libraries (PostgreSQL 15.19+) does
// not list wal2json. The server raises that refusal with the generic 42501, so the code alone
// does not tell it; the setting, asked on the same replication connection, does:
// - SHOW returns the list: it is that refusal exactly when wal2json is not in it;
// - SHOW is refused with 42501: the setting exists (15.19+) but this role may not read it
//   (superusers and pg_read_all_settings only). The role has a walsender, so it has REPLICATION
//   or is a superuser; the other 42501s of slot creation (no REPLICATION, no CONNECT) are raised
//   when the connection starts, which leaves this refusal;
// - anything else (42704 on servers without the setting, a lost connection, a transaction in
//   error): not known to be that refusal, and the caller passes the original error on.
bool refusedByOutputPluginLibraries(PgConnection& conn) {
  try {
    auto res = conn.exec("SHOW output_plugin_libraries");
    if (res.rows() != 1 || res.columns() < 1) return false;
    auto allowed = splitList(res.value(0, 0));
    return std::find(allowed.begin(), allowed.end(), SlotManager::kPlugin) == allowed.end();
  } catch (const PgError& e) {
    return e.sqlstate() == sqlstate::kInsufficientPrivilege;
  }
}

}  // namespace

SlotManager::SlotManager(std::string sourceConninfo) : conninfo_(std::move(sourceConninfo)) {}

std::optional<SlotInfo> SlotManager::inspect(const std::string& slot) {
  PgConnection conn(conninfo_, "source");
  auto res = conn.execParams(
      "SELECT slot_name, plugin, database, wal_status, active, restart_lsn, confirmed_flush_lsn,"
      " active_pid, safe_wal_size FROM pg_replication_slots WHERE slot_name = $1",
      {slot});
  if (res.rows() == 0) return std::nullopt;
  SlotInfo info;
  info.name = textOrEmpty(res, 0, 0);
  info.plugin = textOrEmpty(res, 0, 1);
  info.database = textOrEmpty(res, 0, 2);
  info.walStatus = textOrEmpty(res, 0, 3);
  info.active = res.value(0, 4) == "t";
  info.restartLsn = lsnOrZero(res, 0, 5);
  info.confirmedFlush = lsnOrZero(res, 0, 6);
  if (!res.isNull(0, 7)) info.activePid = std::stoi(std::string(res.value(0, 7)));
  if (!res.isNull(0, 8)) info.safeWalSize = std::stoll(std::string(res.value(0, 8)));
  return info;
}

CreatedSlot SlotManager::create(const std::string& slot) {
  PgConnection conn(conninfo_, "replication", PgConnection::Mode::Replication);
  return createOn(conn, slot, "nothing");
}

CreatedSlot SlotManager::createOn(PgConnection& conn, const std::string& slot,
                                  std::string_view snapshotAction) {
  std::string sql = fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL {} (SNAPSHOT '{}')",
                                conn.quoteIdent(slot), kPlugin, snapshotAction);
  PgResult res;
  try {
    res = conn.exec(sql);
  } catch (const PgError& e) {
    const std::string& state = e.sqlstate();
    std::string what = e.what();
    if (state == sqlstate::kDuplicateObject)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("replication slot \"{}\" already exists on the source: resume from it, or "
                      "drop it (SELECT pg_drop_replication_slot('{}')) to start over with a new "
                      "snapshot. ({})",
                      slot, slot, what));
    if (state == sqlstate::kConfigurationLimitExceeded)
      throw PgmorphError(
          ErrorClass::Operator,
          fmt::format("cannot create replication slot \"{}\": every replication slot of the "
                      "source is in use: drop unused slots or raise max_replication_slots and "
                      "restart the source. ({})",
                      slot, what));
    if (state == sqlstate::kUndefinedFile)
      throw PgmorphError(ErrorClass::Operator,
                         fmt::format("cannot create replication slot \"{}\": the wal2json plugin "
                                     "is not installed on the source server: install it (Debian: "
                                     "postgresql-<major>-wal2json). ({})",
                                     slot, what));
    if (state == sqlstate::kInsufficientPrivilege && refusedByOutputPluginLibraries(conn))
      throw PgmorphError(ErrorClass::Operator,
                         fmt::format("cannot create replication slot \"{}\": the source does not "
                                     "allow wal2json as an output plugin: add wal2json to "
                                     "output_plugin_libraries and reload the configuration. ({})",
                                     slot, what));
    if (state == sqlstate::kObjectNotInPrerequisiteState)
      throw PgmorphError(ErrorClass::Operator,
                         fmt::format("cannot create replication slot \"{}\": the source cannot do "
                                     "logical decoding: set wal_level = logical and restart the "
                                     "source server. ({})",
                                     slot, what));
    throw;
  }
  if (res.rows() != 1 || res.columns() < 3)
    throw PgError(fmt::format("replication database: CREATE_REPLICATION_SLOT \"{}\" returned {} "
                              "rows of {} columns, expected 1 row of 4",
                              slot, res.rows(), res.columns()),
                  std::string(sqlstate::kProtocolViolation));
  return CreatedSlot{std::string(res.value(0, 0)), Lsn::parse(res.value(0, 1)),
                     textOrEmpty(res, 0, 2)};
}

void SlotManager::drop(const std::string& slot) {
  PgConnection conn(conninfo_, "source");
  conn.execParams(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
      {slot});
}

std::vector<std::string> SlotManager::sourceProblems(const std::string& slot) {
  std::vector<std::string> problems;
  PgConnection conn(conninfo_, "source");
  auto res = conn.exec(
      "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int,"
      " current_setting('max_wal_senders')::int,"
      " r.rolsuper, r.rolreplication, current_user, current_database(),"
      " current_setting('server_version_num')::int / 10000"
      " FROM pg_roles r WHERE r.rolname = current_user");
  std::string walLevel(res.value(0, 0));
  bool superuser = res.value(0, 3) == "t";
  std::string user(res.value(0, 5));
  std::string database(res.value(0, 6));
  if (walLevel != "logical")
    problems.push_back(fmt::format(
        "the source has wal_level={}, but logical decoding needs wal_level=logical: run ALTER "
        "SYSTEM SET wal_level = logical on the source and restart it",
        walLevel));
  if (res.value(0, 1) == "0")
    problems.push_back(
        "the source has max_replication_slots=0: set it to at least 1 (ALTER "
        "SYSTEM SET max_replication_slots = 10) and restart the source");
  if (res.value(0, 2) == "0")
    problems.push_back(
        "the source has max_wal_senders=0: set it to at least 1 (ALTER SYSTEM SET "
        "max_wal_senders = 10) and restart the source");
  if (!superuser && res.value(0, 4) != "t")
    problems.push_back(
        fmt::format("the source role \"{}\" may not replicate: run ALTER ROLE {} "
                    "REPLICATION as a superuser",
                    user, conn.quoteIdent(user)));
  // PostgreSQL 15.19 and later only let the plugins listed here decode; older servers
  // have no such setting and accept any installed plugin. Only superusers and members of
  // pg_read_all_settings can see it (pg_settings hides it from others); the others learn
  // it when the slot is created.
  auto plugins =
      conn.exec("SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'");
  if (plugins.rows() == 1) {
    auto allowed = splitList(plugins.value(0, 0));
    if (std::find(allowed.begin(), allowed.end(), kPlugin) == allowed.end()) {
      std::vector<std::string> entries;
      for (const auto& a : allowed) entries.push_back(listEntry(a));
      entries.emplace_back(kPlugin);
      problems.push_back(fmt::format(
          "the source does not allow wal2json as an output plugin (output_plugin_libraries = "
          "'{}'): run ALTER SYSTEM SET output_plugin_libraries = {} and SELECT pg_reload_conf() "
          "on the source",
          plugins.value(0, 0), fmt::join(entries, ", ")));
    }
  }
  // Whether wal2json is installed can only be seen with superuser rights (pg_config and
  // pg_stat_file); other roles learn it when the slot is created.
  // Only the default library path is checked (another path may hold it anywhere).
  if (superuser) {
    auto lib = conn.exec(
        "SELECT current_setting('dynamic_library_path') = '$libdir' AND"
        " pg_stat_file((SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR')"
        " || '/wal2json.so', true) IS NULL");
    if (lib.value(0, 0) == "t")
      problems.push_back(
          fmt::format("the wal2json plugin is not installed on the source server: "
                      "install it (Debian: postgresql-{}-wal2json)",
                      res.value(0, 7)));
  }
  if (!slot.empty()) {
    auto more = slotProblemsOn(conn, slot, database);
    problems.insert(problems.end(), more.begin(), more.end());
  }
  return problems;
}

std::vector<std::string> SlotManager::slotProblems(const std::string& slot) {
  PgConnection conn(conninfo_, "source");
  std::string database(conn.exec("SELECT current_database()").value(0, 0));
  return slotProblemsOn(conn, slot, database);
}

std::vector<std::string> SlotManager::slotProblemsOn(PgConnection& conn, const std::string& slot,
                                                     const std::string& database) {
  std::vector<std::string> problems;
  auto s = conn.execParams(
      "SELECT slot_type, plugin, database, wal_status FROM pg_replication_slots"
      " WHERE slot_name = $1",
      {slot});
  if (s.rows() == 1) {
    std::string dropIt = fmt::format(
        "drop it (SELECT pg_drop_replication_slot('{}')) or choose "
        "another slot name",
        slot);
    if (s.value(0, 0) != "logical")
      problems.push_back(fmt::format("replication slot \"{}\" is a {} slot, not a logical one: {}",
                                     slot, s.value(0, 0), dropIt));
    else if (s.value(0, 1) != kPlugin)
      problems.push_back(fmt::format("replication slot \"{}\" uses the plugin {}, not wal2json: {}",
                                     slot, s.value(0, 1), dropIt));
    else if (s.value(0, 2) != database)
      problems.push_back(
          fmt::format("replication slot \"{}\" belongs to database \"{}\", not to "
                      "the source database \"{}\": {}",
                      slot, s.value(0, 2), database, dropIt));
    if (s.value(0, 3) == "lost")
      problems.push_back(fmt::format(
          "replication slot \"{}\" is lost: the source removed WAL it still needed, so changes "
          "were missed; drop the slot and take a new snapshot",
          slot));
  }
  return problems;
}

void SlotManager::checkSource(const std::string& slot) {
  auto problems = sourceProblems(slot);
  if (problems.empty()) return;
  std::string msg =
      fmt::format("the source database ({}) cannot feed pgmorph:", maskConnInfo(conninfo_));
  for (const auto& p : problems) msg += "\n  - " + p;
  throw PgmorphError(ErrorClass::Operator, msg);
}

}  // namespace pgmorph
