// PgConnection owns one libpq connection (closed on destruction). Every connection
// pgmorph opens goes through it, so every session is pinned to TimeZone=UTC and
// DateStyle=ISO whatever the user's environment says (wal2json renders timestamps with
// the session's settings), and no error message ever carries a password.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cdc/pg/PgResult.h"

namespace pgmorph {

// The conninfo with any password replaced by "********"; safe to log.
std::string maskConnInfo(std::string_view conninfo);

class PgConnection {
 public:
  enum class Mode { Normal, Replication };

  // `role` names the connection in errors ("source", "target", "replication").
  PgConnection(const std::string& conninfo, std::string role, Mode mode = Mode::Normal);
  PgConnection(PgConnection&&) noexcept = default;
  PgConnection& operator=(PgConnection&&) noexcept = default;
  ~PgConnection() = default;

  PGconn* get() const { return conn_.get(); }
  const std::string& role() const { return role_; }
  int socket() const { return PQsocket(conn_.get()); }
  bool isOk() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  int serverVersion() const { return PQserverVersion(conn_.get()); }
  // Identifies the database session this object holds now: a new one for every connection
  // made, and it moves with the session when the object is assigned another one. Whoever
  // caches per-session state (prepared statements) keeps a weak_ptr to it: expired, or not the
  // current one, means a new session. (Not the PGconn address: a new connection can get the
  // address of a freed one.)
  std::weak_ptr<const void> sessionToken() const { return session_; }

  // Simple-query execution; throws PgError (with role and statement context) unless the
  // result status is one of COMMAND_OK, TUPLES_OK, COPY_OUT, COPY_IN, COPY_BOTH.
  PgResult exec(std::string_view sql);
  // Extended protocol with text parameters; std::nullopt is SQL NULL.
  PgResult execParams(std::string_view sql,
                      std::span<const std::optional<std::string_view>> params);
  PgResult execParams(std::string_view sql,
                      std::initializer_list<std::optional<std::string_view>> params);

  // Quotes an identifier ("my table" -> "\"my table\"") with the server's rules.
  std::string quoteIdent(std::string_view name) const;
  // "schema"."table"
  std::string quoteQualified(std::string_view schema, std::string_view name) const;

  // Throws PgError built from a failed result, naming this connection's role.
  [[noreturn]] void throwError(const PgResult& res, std::string_view what) const;
  // Throws PgError from PQerrorMessage (connection-level failure).
  [[noreturn]] void throwConnectionError(std::string_view what) const;
  // Checks the result status as exec() does.
  void check(const PgResult& res, std::string_view what) const;

 private:
  struct Deleter {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::shared_ptr<const void> session_ = std::make_shared<const char>(0);
  std::unique_ptr<PGconn, Deleter> conn_;
  std::string role_;
};

}  // namespace pgmorph
