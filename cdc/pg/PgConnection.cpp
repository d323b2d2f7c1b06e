#include "cdc/pg/PgConnection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <vector>

#include "cdc/pg/OneLine.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

struct ConnInfoOptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using ConnInfoOptions = std::unique_ptr<PQconninfoOption, ConnInfoOptionsDeleter>;

ConnInfoOptions parseConnInfo(const std::string& conninfo, std::string& error) {
  char* err = nullptr;
  ConnInfoOptions opts(PQconninfoParse(conninfo.c_str(), &err));
  if (err) {
    error = err;
    PQfreemem(err);
    while (!error.empty() && error.back() == '\n') error.pop_back();
  }
  return opts;
}

// libpq's parse errors quote the text they stumbled on (`missing "=" after "cd"`), which can be
// a piece of a password: one with a space or a quote, typically a ${VAR} expanded into
// `password=${VAR}`. When the conninfo carries a password, its message is withheld and
// replaced by the usual causes.
std::string unparseableConnInfo(const std::string& role, const std::string& conninfo,
                                const std::string& libpqError) {
  std::string lower = conninfo;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool uri = lower.rfind("postgresql://", 0) == 0 || lower.rfind("postgres://", 0) == 0;
  bool secret =
      lower.find("password") != std::string::npos || (uri && lower.find('@') != std::string::npos);
  if (!secret) return fmt::format("{} conninfo is not valid: {}", role, libpqError);
  return fmt::format(
      "{} conninfo is not valid (libpq's message is not shown: it could quote the password). "
      "In `key=value` form a value with spaces, quotes or backslashes must be single-quoted "
      "with \\' and \\\\ escaped (password='...'); in a URI, percent-encode it",
      role);
}

// libpq's text as one line (oneLine): its messages span lines.
std::string trimmed(const char* s) {
  return oneLine(s ? s : "");
}

// Server NOTICEs and WARNINGs (CREATE ... IF NOT EXISTS "already exists, skipping", a
// RAISE NOTICE of a trigger) go to the log, one line each, never raw to stderr (libpq's
// default). Warnings at warn, everything else at debug.
void routeNotice(void* arg, const PGresult* res) {
  const auto* role = static_cast<const std::string*>(arg);
  auto field = [&](int code) {
    const char* v = PQresultErrorField(res, code);
    return std::string(v ? v : "");
  };
  std::string severity = field(PG_DIAG_SEVERITY_NONLOCALIZED);
  std::string text = field(PG_DIAG_MESSAGE_PRIMARY);
  if (text.empty()) text = trimmed(PQresultErrorMessage(res));
  if (auto detail = field(PG_DIAG_MESSAGE_DETAIL); !detail.empty()) text += "; " + detail;
  if (auto hint = field(PG_DIAG_MESSAGE_HINT); !hint.empty()) text += "; hint: " + hint;
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (severity == "WARNING")
    spdlog::warn("{} database warning: {}", *role, text);
  else
    spdlog::debug("{} database said: {}", *role, text);
}

std::string conninfoKey(std::string_view side) {
  return side.empty() ? std::string("conninfo") : fmt::format("{}.conninfo", side);
}

}  // namespace

std::string refusedStartupSqlstate(std::string_view message) {
  // The server's own texts (backend/utils/init/postinit.c, libpq/auth.c), unlocalized.
  auto has = [&](std::string_view s) { return message.find(s) != std::string_view::npos; };
  if (has("password authentication failed")) return std::string(sqlstate::kInvalidPassword);
  if (has("no pg_hba.conf entry")) return std::string(sqlstate::kInvalidAuthorizationSpecification);
  if (has("FATAL:  database \"") && has("\" does not exist"))
    return std::string(sqlstate::kInvalidCatalogName);
  if (has("FATAL:  role \"") && has("\" does not exist"))
    return std::string(sqlstate::kInvalidAuthorizationSpecification);
  if (has("permission denied for database")) return std::string(sqlstate::kInsufficientPrivilege);
  return std::string(sqlstate::kConnectionFailure);
}

ConnectFailure classifyConnectFailure(bool needsPassword, bool usedPassword,
                                      std::string_view message, std::string_view side) {
  std::string key = conninfoKey(side);
  if (needsPassword)
    return {std::string(sqlstate::kInvalidAuthorizationSpecification),
            fmt::format("the server asks for a password and none was given: add "
                        "password=${{VAR}} to {} (or set PGPASSWORD, or use ~/.pgpass), then "
                        "start pgmorph again",
                        key)};
  std::string state = refusedStartupSqlstate(message);
  // A password was sent and the connection failed: the server refused it, or (after accepting
  // it) the database or the role. The server closing the connection between the password
  // exchange and the end of the startup (a crash in that instant) would look the same; the
  // next start of pgmorph then succeeds.
  if (usedPassword && state == sqlstate::kConnectionFailure)
    state = std::string(sqlstate::kInvalidPassword);
  if (state == sqlstate::kInvalidPassword)
    return {state, fmt::format("the server refused the password: check the password in {} (or "
                               "PGPASSWORD / ~/.pgpass) against the role's password on the "
                               "server, then start pgmorph again",
                               key)};
  if (state == sqlstate::kInvalidAuthorizationSpecification)
    return {state, fmt::format("the server does not let this role in: check the user in {} and "
                               "the server's pg_hba.conf, then start pgmorph again",
                               key)};
  if (state == sqlstate::kInvalidCatalogName)
    return {state, fmt::format("check dbname in {}, or create the database, then start pgmorph "
                               "again",
                               key)};
  if (state == sqlstate::kInsufficientPrivilege)
    return {state, fmt::format("GRANT CONNECT ON DATABASE to the user of {}, then start pgmorph "
                               "again",
                               key)};
  return {state, ""};
}

std::string maskConnInfo(std::string_view conninfo) {
  std::string error;
  auto opts = parseConnInfo(std::string(conninfo), error);
  if (!opts) return "<unparseable conninfo>";
  std::string out;
  for (auto* o = opts.get(); o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    if (!out.empty()) out += ' ';
    bool secret = std::string_view(o->keyword) == "password";
    out += fmt::format("{}={}", o->keyword, secret ? "********" : o->val);
  }
  return out;
}

PgConnection::PgConnection(const std::string& conninfo, std::string role, Mode mode)
    : role_(std::move(role)) {
  std::string error;
  auto opts = parseConnInfo(conninfo, error);
  if (!opts) throw ConfigError(unparseableConnInfo(role_, conninfo, error));

  // Rebuild the parameter list so that our session settings are appended to any
  // `options` the user gave, rather than replacing them.
  std::vector<std::string> keys, values;
  std::string options;
  for (auto* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    if (std::string_view(o->keyword) == "options") {
      options = o->val;
      continue;
    }
    if (std::string_view(o->keyword) == "client_encoding") continue;  // pinned below
    keys.emplace_back(o->keyword);
    values.emplace_back(o->val);
  }
  if (!options.empty()) options += ' ';
  // bytea_output too: a legacy database or role may have `escape` set (the default before 9.0),
  // and wal2json, which formats values with the walsender's settings, strips the first two
  // characters of every bytea as if they were the hex form's "\x" — data lost without an error.
  // Startup options outrank ALTER DATABASE / ALTER ROLE settings.
  options +=
      "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3"
      " -c bytea_output=hex";
  keys.emplace_back("options");
  values.push_back(options);
  // Text in UTF-8 from and to every database, whatever its encoding or PGCLIENTENCODING: the
  // server converts a LATIN1 legacy database's text to it, and the target's from it (refusing,
  // row by row, a character its encoding lacks, rather than storing other letters). The
  // replication stream is not converted by the server: see Utf8Transcoder.
  keys.emplace_back("client_encoding");
  values.emplace_back("UTF8");
  if (mode == Mode::Replication) {
    keys.emplace_back("replication");
    values.emplace_back("database");
  }
  bool hasAppName = false;
  for (auto& k : keys) hasAppName |= (k == "application_name");
  if (!hasAppName) {
    keys.emplace_back("application_name");
    values.emplace_back("pgmorph");
  }
  std::vector<const char*> k, v;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    k.push_back(keys[i].c_str());
    v.push_back(values[i].c_str());
  }
  k.push_back(nullptr);
  v.push_back(nullptr);
  conn_.reset(PQconnectdbParams(k.data(), v.data(), 0));
  if (!conn_)
    throw PgError(fmt::format("{}: out of memory creating a connection", role_), "",
                  sideOfRole(role_));
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string side = sideOfRole(role_);
    std::string message = trimmed(PQerrorMessage(conn_.get()));
    ConnectFailure failure =
        classifyConnectFailure(PQconnectionNeedsPassword(conn_.get()) != 0,
                               PQconnectionUsedPassword(conn_.get()) != 0, message, side);
    throw PgError(
        fmt::format("cannot connect to the {} database ({}): {}{}", role_, maskConnInfo(conninfo),
                    message, failure.advice.empty() ? "" : " — " + failure.advice),
        failure.sqlstate, side);
  }
  noticeRole_ = std::make_unique<std::string>(role_);
  PQsetNoticeReceiver(conn_.get(), routeNotice, noticeRole_.get());
  // libpq applies PGTZ/PGDATESTYLE from the environment after the startup options, so the
  // settings are (re)applied explicitly; replication=database sessions accept SET too.
  PgResult set(PQexec(conn_.get(), "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'"));
  check(set, "pinning TimeZone=UTC and DateStyle=ISO");
}

void PgConnection::throwError(const PgResult& res, std::string_view what) const {
  std::string state(res.sqlstate());
  std::string msg = oneLine(res.errorMessage());  // ERROR, DETAIL, HINT: one log line
  if (msg.empty()) msg = trimmed(PQerrorMessage(conn_.get()));
  throw PgError(fmt::format("{} database: {} failed: {}", role_, what, msg), state,
                sideOfRole(role_));
}

void PgConnection::throwConnectionError(std::string_view what) const {
  throw PgError(
      fmt::format("{} database: {} failed: {}", role_, what, trimmed(PQerrorMessage(conn_.get()))),
      "", sideOfRole(role_));
}

void PgConnection::check(const PgResult& res, std::string_view what) const {
  if (!res) throwConnectionError(what);
  switch (res.status()) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_COPY_OUT:
    case PGRES_COPY_IN:
    case PGRES_COPY_BOTH:
    case PGRES_EMPTY_QUERY:
      return;
    default:
      throwError(res, what);
  }
}

PgResult PgConnection::exec(std::string_view sql) {
  std::string s(sql);
  PgResult res(PQexec(conn_.get(), s.c_str()));
  check(res, s.size() > 120 ? s.substr(0, 120) + "..." : s);
  return res;
}

PgResult PgConnection::execParams(std::string_view sql,
                                  std::span<const std::optional<std::string_view>> params) {
  std::string s(sql);
  // libpq wants NUL-terminated values: copy them once into one buffer.
  std::string buffer;
  std::size_t total = 0;
  for (const auto& p : params) total += p ? p->size() + 1 : 0;
  buffer.reserve(total);
  std::vector<std::size_t> offsets(params.size(), std::string::npos);
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) continue;
    offsets[i] = buffer.size();
    buffer.append(*params[i]);
    buffer.push_back('\0');
  }
  std::vector<const char*> values(params.size(), nullptr);
  for (std::size_t i = 0; i < params.size(); ++i)
    if (offsets[i] != std::string::npos) values[i] = buffer.data() + offsets[i];
  PgResult res(PQexecParams(conn_.get(), s.c_str(), static_cast<int>(params.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
  check(res, s.size() > 120 ? s.substr(0, 120) + "..." : s);
  return res;
}

PgResult PgConnection::execParams(std::string_view sql,
                                  std::initializer_list<std::optional<std::string_view>> params) {
  return execParams(
      sql, std::span<const std::optional<std::string_view>>(params.begin(), params.size()));
}

std::string PgConnection::quoteIdent(std::string_view name) const {
  char* q = PQescapeIdentifier(conn_.get(), name.data(), name.size());
  if (!q) throwConnectionError(fmt::format("quoting identifier '{}'", name));
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string PgConnection::quoteLiteral(std::string_view value) const {
  char* q = PQescapeLiteral(conn_.get(), value.data(), value.size());
  if (!q) throwConnectionError("quoting a literal");
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string PgConnection::quoteQualified(std::string_view schema, std::string_view name) const {
  return quoteIdent(schema) + "." + quoteIdent(name);
}

}  // namespace pgmorph
