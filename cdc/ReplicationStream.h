// ReplicationStream owns the replication connection to the source (replication=database)
// while it streams a logical slot in CopyBoth mode: it starts the slot, hands out each
// XLogData payload, answers keepalives, and reports progress with standby status updates.
//
// Durability contract (invariant 2): the flush/apply position it reports is only ever the
// value given to setFlushed() — what the target (or a durable journal) has committed —
// never what was merely received. The server may discard WAL before the reported flush
// position, so reporting a received-but-unapplied LSN could lose changes.
//
// Payloads are UTF-8 whatever the source database's encoding: wal2json writes the database's
// own encoding, which the constructor reads (SHOW server_encoding) and Utf8Transcoder converts.
//
// poll() never blocks: wait for socket() to become readable (e.g. with Boost.Asio), then
// call poll() until it returns nullopt. Sending status updates does block briefly (libpq
// blocking mode, as pg_recvlogical does): a 34-byte message on a healthy connection.
// Not thread-safe.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdc/Utf8Transcoder.h"
#include "cdc/model/Lsn.h"
#include "cdc/pg/PgConnection.h"

namespace pgmorph {

class ReplicationStream {
 public:
  // Connects at once (throws PgError when the source cannot be reached).
  ReplicationStream(const std::string& conninfo, std::string slot);
  ~ReplicationStream();
  ReplicationStream(ReplicationStream&&) noexcept;
  ReplicationStream& operator=(ReplicationStream&&) noexcept;

  // START_REPLICATION SLOT "slot" LOGICAL <start> ("name" 'value', ...). The server
  // starts at the later of `start` and the slot's confirmed_flush_lsn. Throws PgError
  // when the server refuses (unknown slot, slot in use, plugin option rejected).
  void start(Lsn start, const std::vector<std::pair<std::string, std::string>>& options);

  // The connection's socket, to wait on for readability; -1 once closed.
  int socket() const;

  struct Message {
    Lsn dataStart;             // the XLogData's start position
    Lsn walEnd;                // the server's WAL end when it sent the message
    std::string_view payload;  // one plugin write; valid until the next poll() or stop()
  };
  // Reads what the socket has and returns the next XLogData, or nullopt when nothing is
  // buffered. Keepalives are handled inside: walEnd is recorded and, when the server asks
  // for a reply, a status update is sent at once (else the server drops us at
  // wal_sender_timeout). Throws PgError when the connection is lost (Transient) or the
  // server ends the stream: the class follows the server's SQLSTATE when it sent an error
  // (admin shutdown 57P01 is Transient; e.g. a plugin error is Operator), and is
  // Transient when the stream just ended (server shutting down). The stream is closed
  // afterwards; make a new one to resume.
  std::optional<Message> poll();

  // The position the target has committed: the only flush/apply position ever reported.
  // It never moves backwards (a lower value is ignored).
  void setFlushed(Lsn flushed);
  Lsn flushed() const { return flushed_; }
  // Highest XLogData start received so far (reported as the write position).
  Lsn received() const { return received_; }
  // Last server WAL end seen in a keepalive or XLogData header.
  Lsn serverWalEnd() const { return serverWalEnd_; }
  // How many keepalives asked for a reply (each was answered at once).
  std::uint64_t keepaliveRepliesSent() const { return keepaliveReplies_; }

  // Sends an 'r' standby status update now: write = max(received, flushed), flush = apply
  // = flushed(). With flushed() still 0 the server ignores the flush position, so nothing
  // is confirmed before setFlushed(). Throws PgError (Transient) if it cannot be sent.
  void sendStatus(bool requestReply = false);

  // Reports flushed() one last time, ends the copy cleanly (PQputCopyEnd) and closes.
  // Data still in flight is discarded: it was never confirmed, so the next start gets it
  // again. Best effort on a broken connection (it then just closes); never throws.
  void stop();

  bool streaming() const { return streaming_; }
  const std::string& slot() const { return slot_; }

 private:
  struct FreeMem {
    void operator()(char* p) const { PQfreemem(p); }
  };
  [[noreturn]] void streamEnded();
  [[noreturn]] void connectionLost(std::string_view what);
  // START_REPLICATION refused with 55006: names who holds the slot (Transient PgmorphError).
  [[noreturn]] void slotInUse();
  PGconn* raw(std::string_view what) const;

  std::string slot_;
  std::unique_ptr<PgConnection> conn_;
  std::unique_ptr<char, FreeMem> copyBuffer_;  // the last XLogData; payloads point into it
  Utf8Transcoder transcoder_;  // the database's encoding to UTF-8 (or nothing to do)
  std::string converted_;      // the last payload converted to UTF-8, when it needed it
  bool streaming_ = false;
  Lsn received_;
  Lsn flushed_;
  Lsn serverWalEnd_;
  std::uint64_t keepaliveReplies_ = 0;
};

}  // namespace pgmorph
