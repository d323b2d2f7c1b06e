#include "cdc/pg/PgConnection.h"

#include <fmt/format.h>

#include <vector>

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

std::string trimmed(const char* s) {
  std::string msg = s ? s : "";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

}  // namespace

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
  if (!opts) throw ConfigError(fmt::format("{} conninfo is not valid: {}", role_, error));

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
    keys.emplace_back(o->keyword);
    values.emplace_back(o->val);
  }
  if (!options.empty()) options += ' ';
  options += "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3";
  keys.emplace_back("options");
  values.push_back(options);
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
  if (!conn_) throw PgError(fmt::format("{}: out of memory creating a connection", role_), "");
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    throw PgError(fmt::format("cannot connect to the {} database ({}): {}", role_,
                              maskConnInfo(conninfo), trimmed(PQerrorMessage(conn_.get()))),
                  std::string(sqlstate::kConnectionFailure));
  // libpq applies PGTZ/PGDATESTYLE from the environment after the startup options, so the
  // settings are (re)applied explicitly; replication=database sessions accept SET too.
  PgResult set(PQexec(conn_.get(), "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'"));
  check(set, "pinning TimeZone=UTC and DateStyle=ISO");
}

void PgConnection::throwError(const PgResult& res, std::string_view what) const {
  std::string state(res.sqlstate());
  std::string msg(res.errorMessage());
  if (msg.empty()) msg = trimmed(PQerrorMessage(conn_.get()));
  throw PgError(fmt::format("{} database: {} failed: {}", role_, what, msg), state);
}

void PgConnection::throwConnectionError(std::string_view what) const {
  throw PgError(
      fmt::format("{} database: {} failed: {}", role_, what, trimmed(PQerrorMessage(conn_.get()))),
      "");
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

std::string PgConnection::quoteQualified(std::string_view schema, std::string_view name) const {
  return quoteIdent(schema) + "." + quoteIdent(name);
}

}  // namespace pgmorph
