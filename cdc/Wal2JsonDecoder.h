// Wal2JsonDecoder turns one wal2json format-version 2 message (one JSON object, the
// payload of one XLogData) into a Change. It is the only place that knows wal2json's
// output format; everything downstream speaks Change.
//
// Contract:
//  - Numbers keep their exact text (never through a double): bigint ids and numeric
//    values such as 12345678901234567890.123456789 survive digit for digit.
//  - Booleans become "true"/"false" (ValueKind::Bool); bytea stays hex without "\x";
//    every other non-null value is the type's text output (ValueKind::String).
//  - "timestamp" (on B/C, and on every row change of a transaction) becomes
//    Change::commitTimeMicros; "lsn"/"nextlsn" become Change::lsn/nextLsn; xid and
//    timestamp are null on non-transactional messages and then stay 0.
//  - An UPDATE's "columns" omits unchanged TOASTed values: the Change simply has no such
//    column (never a placeholder).
//  - A column's "type" is kept when the message has one; pgmorph's own stream turns
//    include-types off (see pluginOptions), so its Changes carry no type names.
//  - Unknown fields (typeoid, pk, origin, ...) are skipped.
//  - Reusing one decoder and one Change per stream does no allocation per message once
//    warm: the reader's stack and the Change's arena keep their capacity.
// Not thread-safe: one decoder per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdc/DecodeError.h"
#include "cdc/model/Change.h"
#include "cdc/model/Lsn.h"

namespace pgmorph {

class Wal2JsonDecoder {
 public:
  Wal2JsonDecoder();
  ~Wal2JsonDecoder();
  Wal2JsonDecoder(Wal2JsonDecoder&&) noexcept;
  Wal2JsonDecoder& operator=(Wal2JsonDecoder&&) noexcept;

  // Decodes one message into `out` (cleared first). `at` is the XLogData position, used
  // only in error messages. Throws DecodeError (ErrorClass::Operator) naming the LSN and
  // showing the start of the message on malformed JSON, a field of the wrong type, a
  // missing or unknown action; `out` is then incomplete and must not be used.
  void decode(std::string_view message, Lsn at, Change& out);

  // Plugin options for START_REPLICATION, as (name, value). All of them are accepted by
  // Debian's wal2json 2.5 (an unknown option is an error there).
  static std::vector<std::pair<std::string, std::string>> pluginOptions();
  // The same, with wal2json's add-msg-prefixes set to `messagePrefix`: logical messages with
  // any other prefix (other applications', other pipelines') are not even sent. A prefix with
  // a comma or a backslash (wal2json's list syntax) is not passed: every message is sent.
  static std::vector<std::pair<std::string, std::string>> pluginOptions(
      const std::string& messagePrefix);

 private:
  struct State;  // the RapidJSON reader and handler, kept out of this header
  std::unique_ptr<State> state_;
};

}  // namespace pgmorph
