#include "cdc/ReplicationStream.h"

#include <fmt/format.h>

#include <algorithm>

#include "cdc/DecodeError.h"
#include "cdc/ReplicationProtocol.h"
#include "cdc/pg/OneLine.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"

namespace pgmorph {

namespace {

// A replication command's string constant: single quotes doubled. The replication
// grammar has no E'' strings, so PQescapeLiteral (which may produce them) is not used.
std::string quoteReplicationLiteral(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '\'';
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string trimmedError(PGconn* conn) {
  return oneLine(conn ? PQerrorMessage(conn) : "");
}

std::unique_ptr<PgConnection> connectReplication(const std::string& conninfo) {
  return std::make_unique<PgConnection>(conninfo, "replication", PgConnection::Mode::Replication);
}

}  // namespace

ReplicationStream::ReplicationStream(const std::string& conninfo, std::string slot)
    : slot_(std::move(slot)),
      conn_(connectReplication(conninfo)),
      // SHOW is a replication command too; wal2json writes text in this encoding.
      transcoder_(conn_->exec("SHOW server_encoding").value(0, 0)) {}

ReplicationStream::~ReplicationStream() = default;
ReplicationStream::ReplicationStream(ReplicationStream&&) noexcept = default;
ReplicationStream& ReplicationStream::operator=(ReplicationStream&&) noexcept = default;

PGconn* ReplicationStream::raw(std::string_view what) const {
  if (!conn_)
    throw PgError(fmt::format("replication stream of slot \"{}\": {} after the stream "
                              "was closed",
                              slot_, what),
                  std::string(sqlstate::kConnectionDoesNotExist));
  return conn_->get();
}

void ReplicationStream::start(Lsn start,
                              const std::vector<std::pair<std::string, std::string>>& options) {
  PGconn* conn = raw("start");
  if (streaming_) throw std::logic_error("ReplicationStream::start called twice for slot " + slot_);
  std::string sql =
      fmt::format("START_REPLICATION SLOT {} LOGICAL {}", conn_->quoteIdent(slot_), start.str());
  if (!options.empty()) {
    sql += " (";
    for (std::size_t i = 0; i < options.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += conn_->quoteIdent(options[i].first);
      sql += ' ';
      sql += quoteReplicationLiteral(options[i].second);
    }
    sql += ')';
  }
  PgResult res(PQexec(conn, sql.c_str()));
  if (res && res.status() == PGRES_FATAL_ERROR && res.sqlstate() == sqlstate::kObjectInUse)
    slotInUse();
  std::string what = fmt::format("starting replication from slot \"{}\" at {}", slot_, start.str());
  conn_->check(res, what);
  if (res.status() != PGRES_COPY_BOTH)
    throw PgError(fmt::format("replication database: {}: the server did not enter streaming "
                              "mode (status {})",
                              what, PQresStatus(res.status())),
                  std::string(sqlstate::kProtocolViolation));
  streaming_ = true;
}

int ReplicationStream::socket() const {
  return conn_ ? conn_->socket() : -1;
}

std::optional<ReplicationStream::Message> ReplicationStream::poll() {
  PGconn* conn = raw("poll");
  if (!streaming_) throw std::logic_error("ReplicationStream::poll before start for slot " + slot_);
  copyBuffer_.reset();
  bool readSocket = false;
  for (;;) {
    char* data = nullptr;
    int n = PQgetCopyData(conn, &data, /*async=*/1);
    if (n == 0) {
      // Nothing complete in libpq's buffer: read the socket once, then try again.
      if (readSocket) return std::nullopt;
      if (!PQconsumeInput(conn)) connectionLost("reading the replication stream");
      readSocket = true;
      continue;
    }
    if (n == -1) streamEnded();
    if (n < 0) connectionLost("reading the replication stream");
    copyBuffer_.reset(data);
    std::string_view msg(data, static_cast<std::size_t>(n));
    if (msg[0] == 'w') {
      replication::XLogDataHeader header;
      std::string_view payload;
      if (!replication::parseXLogData(msg, header, payload))
        throw PgError(fmt::format("replication stream of slot \"{}\": truncated XLogData "
                                  "message ({} bytes)",
                                  slot_, msg.size()),
                      std::string(sqlstate::kProtocolViolation));
      received_ = std::max(received_, header.dataStart);
      serverWalEnd_ = std::max(serverWalEnd_, header.walEnd);
      if (transcoder_.needed()) {
        try {
          payload = transcoder_.toUtf8(payload, converted_);
        } catch (const PgmorphError& e) {
          throw DecodeError(fmt::format("replication stream of slot \"{}\", message at {}: {}",
                                        slot_, header.dataStart.str(), e.what()),
                            header.dataStart);
        }
      }
      return Message{header.dataStart, header.walEnd, payload};
    }
    if (msg[0] == 'k') {
      replication::Keepalive keepalive;
      if (!replication::parseKeepalive(msg, keepalive))
        throw PgError(fmt::format("replication stream of slot \"{}\": truncated keepalive "
                                  "message ({} bytes)",
                                  slot_, msg.size()),
                      std::string(sqlstate::kProtocolViolation));
      serverWalEnd_ = std::max(serverWalEnd_, keepalive.walEnd);
      copyBuffer_.reset();
      if (keepalive.replyRequested) {
        // Answer at once: the server drops a client that stays silent for
        // wal_sender_timeout. The reply still reports only flushed(), so answering never
        // confirms anything the target has not committed.
        sendStatus(false);
        ++keepaliveReplies_;
      }
      continue;
    }
    throw PgError(fmt::format("replication stream of slot \"{}\": unexpected message type "
                              "'{}' from the server",
                              slot_, msg[0]),
                  std::string(sqlstate::kProtocolViolation));
  }
}

void ReplicationStream::streamEnded() {
  // The server left COPY mode: its error (if any) is the next result.
  PGconn* conn = conn_->get();
  std::string message;
  std::string sqlstate;
  while (PGresult* r = PQgetResult(conn)) {
    PgResult res(r);
    if (res.status() == PGRES_FATAL_ERROR && message.empty()) {
      message = oneLine(res.errorMessage());
      sqlstate = std::string(res.sqlstate());
    }
  }
  streaming_ = false;
  copyBuffer_.reset();
  conn_.reset();
  if (message.empty())
    throw PgError(fmt::format("the source server ended the replication stream of slot \"{}\" "
                              "(it is probably shutting down); reconnect and resume",
                              slot_),
                  "", "source");
  throw PgError(fmt::format("the source server ended the replication stream of slot \"{}\": {}",
                            slot_, message),
                sqlstate, "source");
}

void ReplicationStream::slotInUse() {
  // Another walsender streams the slot: a second pgmorph on the same pipeline, another consumer,
  // or a previous pgmorph whose session the server has not ended yet. The PID PostgreSQL names is
  // its walsender's (a server process), not the consumer's: say so, and how to find the
  // consumer. Asked on this same connection (a replication=database session runs simple
  // queries), never parsed out of the message.
  std::string pid;
  PgResult res(PQexec(
      conn_->get(), fmt::format("SELECT active_pid FROM pg_replication_slots WHERE slot_name = {}",
                                conn_->quoteLiteral(slot_))
                        .c_str()));
  if (res && res.status() == PGRES_TUPLES_OK && res.rows() == 1 && !res.isNull(0, 0))
    pid = std::string(res.value(0, 0));
  std::string who = pid.empty()
                        ? std::string("its walsender has gone since")
                        : fmt::format(
                              "the walsender serving it on the source has PID {} (SELECT "
                              "application_name, client_addr FROM pg_stat_replication WHERE pid "
                              "= {} says who it streams to)",
                              pid, pid);
  // Transient: a pgmorph restarted while its predecessor's session is still being torn down
  // gets the slot within seconds; a second pgmorph on the same pipeline waits, retrying, and
  // takes over when the first one stops.
  throw PgmorphError(ErrorClass::Transient,
                     fmt::format("slot \"{}\" is in use: another pgmorph (or another consumer) is "
                                 "streaming it; {}. Waiting for it to be released.",
                                 slot_, who));
}

void ReplicationStream::connectionLost(std::string_view what) {
  std::string msg = trimmedError(conn_->get());
  streaming_ = false;
  copyBuffer_.reset();
  conn_.reset();
  throw PgError(fmt::format("replication database: {} of slot \"{}\" failed: {}", what, slot_,
                            msg.empty() ? "connection lost" : msg),
                "", "source");
}

void ReplicationStream::setFlushed(Lsn flushed) {
  flushed_ = std::max(flushed_, flushed);
}

void ReplicationStream::sendStatus(bool requestReply) {
  PGconn* conn = raw("sendStatus");
  if (!streaming_)
    throw std::logic_error("ReplicationStream::sendStatus before start for slot " + slot_);
  // flush = apply = flushed_: see the durability contract in the header.
  auto msg = replication::encodeStandbyStatus(std::max(received_, flushed_), flushed_, flushed_,
                                              replication::pgNowMicros(), requestReply);
  if (PQputCopyData(conn, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn) != 0)
    connectionLost("sending a status update");
}

void ReplicationStream::stop() {
  copyBuffer_.reset();
  if (!conn_) return;
  PGconn* conn = conn_->get();
  if (streaming_ && PQstatus(conn) == CONNECTION_OK) {
    try {
      if (!flushed_.isZero()) sendStatus(false);
    } catch (const PgError&) {
      // The connection broke: the server already saw our last successful report.
      return;
    }
    if (conn_ && PQputCopyEnd(conn, nullptr) == 1 && PQflush(conn) == 0) {
      // Drain until the server answers with its own CopyDone; in-flight data is discarded.
      char* data = nullptr;
      int n;
      while ((n = PQgetCopyData(conn, &data, /*async=*/0)) > 0) PQfreemem(data);
      while (PGresult* r = PQgetResult(conn)) PQclear(r);
    }
  }
  streaming_ = false;
  conn_.reset();
}

}  // namespace pgmorph
