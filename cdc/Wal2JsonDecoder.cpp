#include "cdc/Wal2JsonDecoder.h"

#include "cdc/json/PaddedInsituStream.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include "cdc/Wal2JsonHandler.h"

namespace pgmorph {

namespace {

// Numbers as their exact text: the whole reason for choosing the SAX reader's flags.
// In situ: strings are unescaped inside our copy of the message and numbers are handed
// over where they stand, instead of being copied through the reader's stack first.
// No kParseStopWhenDoneFlag: anything after the object is an error, not ignored.
constexpr unsigned kParseFlags =
    rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseInsituFlag;

// The start of a message for an error, cut on a UTF-8 character boundary.
std::string excerpt(std::string_view message) {
  constexpr std::size_t kMax = 200;
  if (message.size() <= kMax) return std::string(message);
  std::size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
  return fmt::format("{}... ({} bytes in all)", message.substr(0, n), message.size());
}

}  // namespace

struct Wal2JsonDecoder::State {
  rapidjson::Reader reader;
  Wal2JsonHandler handler;
};

Wal2JsonDecoder::Wal2JsonDecoder() : state_(std::make_unique<State>()) {}
Wal2JsonDecoder::~Wal2JsonDecoder() = default;
Wal2JsonDecoder::Wal2JsonDecoder(Wal2JsonDecoder&&) noexcept = default;
Wal2JsonDecoder& Wal2JsonDecoder::operator=(Wal2JsonDecoder&&) noexcept = default;

void Wal2JsonDecoder::decode(std::string_view message, Lsn at, Change& out) {
  State& s = *state_;
  // The message is parsed in situ inside the Change's own arena (a NUL-terminated, writable
  // copy: the payload is neither), so its strings need no second copy. The arena keeps its
  // capacity: one memcpy per message.
  char* text = out.adoptMessage(message);
  s.handler.reset(out);
  static_assert(Change::kMessagePadding >= PaddedInsituStream::kPadding);
  PaddedInsituStream stream(text);
  rapidjson::ParseResult result = s.reader.Parse<kParseFlags>(stream, s.handler);
  std::string reason;
  if (result.IsError()) {
    reason = result.Code() == rapidjson::kParseErrorTermination
                 ? s.handler.error()
                 : std::string(rapidjson::GetParseError_En(result.Code()));
    reason += fmt::format(" (at byte {})", result.Offset());
  } else if (!s.handler.finish()) {
    reason = s.handler.error();
  } else {
    return;
  }
  throw DecodeError(
      fmt::format("cannot decode the wal2json message at LSN {}: {}; the source must use "
                  "wal2json with format-version 2. The message starts: {}",
                  at.str(), reason, excerpt(message)),
      at);
}

std::vector<std::pair<std::string, std::string>> Wal2JsonDecoder::pluginOptions() {
  // format-version 2 streams one object per row (version 1 builds whole transactions in
  // memory). xids, commit timestamps and LSNs are needed for checkpoints and lag.
  // Column types are turned off (wal2json's default is on): nothing downstream reads them
  // (transform converts by the mapping and the target's catalog, and a value's JSON kind
  // already tells numbers and booleans from text), while the walsender formats a type name
  // for every column of every row and the decoder scans two more strings per column.
  // numeric-data-types-as-string is left out: Debian's wal2json 2.5 rejects it.
  return {{"format-version", "2"},
          {"include-xids", "1"},
          {"include-timestamp", "1"},
          {"include-lsn", "1"},
          {"include-types", "0"}};
}

std::vector<std::pair<std::string, std::string>> Wal2JsonDecoder::pluginOptions(
    const std::string& messagePrefix) {
  auto options = pluginOptions();
  if (messagePrefix.find_first_of(",\\") == std::string::npos)
    options.emplace_back("add-msg-prefixes", messagePrefix);
  return options;
}

}  // namespace pgmorph
