// Utf8Transcoder: the source database's text as UTF-8, for what the server does not convert.
//
// A client session gets its text in client_encoding (pgmorph pins UTF8, PgConnection), which the
// server converts to. The replication stream is not converted: wal2json writes every value in
// the database's own encoding, so a LATIN1 legacy database streams "Zürich" with the single
// byte 0xFC, which no UTF-8 target takes (or, worse, a LATIN1 target stores as other letters).
// ReplicationStream hands its payloads through this class, so that everything downstream —
// the decoder, the journal, the target — sees UTF-8 from every source database.
//
// Contract:
//  - UTF8 and SQL_ASCII need nothing: needed() is false. (SQL_ASCII declares no encoding, and
//    its bytes go on as they are, as every client of such a database gets them.)
//  - Any other server encoding is read with iconv (glibc); every server encoding PostgreSQL
//    has is a superset of ASCII, so a payload without a byte >= 0x80 is returned as it is,
//    without a copy. An encoding iconv cannot read (MULE_INTERNAL) is refused at construction
//    with a PgmorphError (Operator) naming it.
//  - A byte sequence that is not valid in the encoding should not come from the server (it
//    validates text on input); it throws PgmorphError (Operator) with its offset, and
//    ReplicationStream names the message's LSN (a DecodeError).
//  - Owns its iconv handle; movable, not copyable, not thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pgmorph {

class Utf8Transcoder {
 public:
  // `serverEncoding` as `SHOW server_encoding` names it (e.g. "LATIN1", "WIN1252", "UTF8").
  explicit Utf8Transcoder(std::string_view serverEncoding);
  ~Utf8Transcoder();
  Utf8Transcoder(Utf8Transcoder&& other) noexcept;
  Utf8Transcoder& operator=(Utf8Transcoder&& other) noexcept;
  Utf8Transcoder(const Utf8Transcoder&) = delete;
  Utf8Transcoder& operator=(const Utf8Transcoder&) = delete;

  bool needed() const { return handle_ != nullptr; }
  const std::string& serverEncoding() const { return serverEncoding_; }

  // `text` as UTF-8: `text` itself when nothing needs converting, otherwise a view of
  // `buffer`, which holds the converted text (valid until `buffer` changes).
  std::string_view toUtf8(std::string_view text, std::string& buffer) const;

 private:
  std::string serverEncoding_;
  void* handle_ = nullptr;  // iconv_t, or nullptr when nothing needs converting
};

}  // namespace pgmorph
