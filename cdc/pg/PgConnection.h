// PgConnection owns one libpq connection (closed on destruction). Every connection
// pgmorph opens goes through it, so every session is pinned to TimeZone=UTC, DateStyle=ISO,
// IntervalStyle=postgres, extra_float_digits=3, bytea_output=hex and client_encoding=UTF8
// whatever the user's environment or the database's own settings say (wal2json renders
// values with the session's settings), and no error message ever carries a password.
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

// Why PQconnectdb could not open a connection, as the SQLSTATE the server would have sent and
// the sentence that tells a person what to do ("" when waiting is the remedy: the server is
// down, starting up, shutting down, unreachable). libpq 15 gives no SQLSTATE for a failed
// connection (the server's ErrorResponse during startup becomes PQerrorMessage text only), so
// the structural signals come first: PQconnectionNeedsPassword (the server asked for a password
// and none was given) and PQconnectionUsedPassword (one was sent, and the connection still
// failed: the server refused it, or refused the database or role after it). Only without those
// is the message read, in refusedStartupSqlstate(). `side` is sideOfRole() of the connection.
struct ConnectFailure {
  std::string sqlstate;  // one of sqlstate:: (classified by PgError::classify)
  std::string advice;    // what to do, for the operator errors
};
ConnectFailure classifyConnectFailure(bool needsPassword, bool usedPassword,
                                      std::string_view message, std::string_view side);
// The one place where pgmorph reads an error's text: the server's refusal of a startup packet
// that did not involve a password (trust, peer or cert auth), which libpq passes on as text
// only. Recognises the server's English messages for a database that does not exist (3D000),
// no CONNECT privilege (42501), no pg_hba.conf entry and an unknown role (28000); anything
// else (including a localized message) is 08006, a connection failure, and retried.
std::string refusedStartupSqlstate(std::string_view message);

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
  // A string literal ('it''s') with the server's rules, for the few statements that take no
  // parameters (SET TRANSACTION SNAPSHOT); everywhere else values are parameters.
  std::string quoteLiteral(std::string_view value) const;

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
  // The role as the notice receiver sees it: on the heap, so that it stays where libpq points
  // when this object is moved. Declared before conn_, so that it outlives the connection.
  std::unique_ptr<std::string> noticeRole_;
  std::unique_ptr<PGconn, Deleter> conn_;
  std::string role_;
};

}  // namespace pgmorph
