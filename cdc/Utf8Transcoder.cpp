#include "cdc/Utf8Transcoder.h"

#include <fmt/format.h>
#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "cdc/model/Errors.h"

namespace pgmorph {

namespace {

// PostgreSQL's server encodings (pg_wchar.h) by the names glibc's iconv knows them by.
// UTF8 and SQL_ASCII are not listed: they need no conversion. MULE_INTERNAL has no iconv name.
constexpr std::array<std::pair<std::string_view, std::string_view>, 35> kIconvNames{{
    {"EUC_JP", "EUC-JP"},
    {"EUC_CN", "EUC-CN"},
    {"EUC_KR", "EUC-KR"},
    {"EUC_TW", "EUC-TW"},
    {"EUC_JIS_2004", "EUC-JISX0213"},
    {"LATIN1", "ISO-8859-1"},
    {"LATIN2", "ISO-8859-2"},
    {"LATIN3", "ISO-8859-3"},
    {"LATIN4", "ISO-8859-4"},
    {"LATIN5", "ISO-8859-9"},
    {"LATIN6", "ISO-8859-10"},
    {"LATIN7", "ISO-8859-13"},
    {"LATIN8", "ISO-8859-14"},
    {"LATIN9", "ISO-8859-15"},
    {"LATIN10", "ISO-8859-16"},
    {"WIN1256", "CP1256"},
    {"WIN1258", "CP1258"},
    {"WIN866", "CP866"},
    {"WIN874", "CP874"},
    {"KOI8R", "KOI8-R"},
    {"WIN1251", "CP1251"},
    {"WIN1252", "CP1252"},
    {"ISO_8859_5", "ISO-8859-5"},
    {"ISO_8859_6", "ISO-8859-6"},
    {"ISO_8859_7", "ISO-8859-7"},
    {"ISO_8859_8", "ISO-8859-8"},
    {"WIN1250", "CP1250"},
    {"WIN1253", "CP1253"},
    {"WIN1254", "CP1254"},
    {"WIN1255", "CP1255"},
    {"WIN1257", "CP1257"},
    {"KOI8U", "KOI8-U"},
    {"GB18030", "GB18030"},
    {"SJIS", "SHIFT_JIS"},
    {"BIG5", "BIG5"},
}};

iconv_t asIconv(void* handle) {
  return static_cast<iconv_t>(handle);
}

}  // namespace

Utf8Transcoder::Utf8Transcoder(std::string_view serverEncoding) : serverEncoding_(serverEncoding) {
  if (serverEncoding == "UTF8" || serverEncoding == "SQL_ASCII") return;
  auto it = std::find_if(kIconvNames.begin(), kIconvNames.end(),
                         [&](const auto& e) { return e.first == serverEncoding; });
  iconv_t cd = it == kIconvNames.end() ? reinterpret_cast<iconv_t>(-1)
                                       : iconv_open("UTF-8", std::string(it->second).c_str());
  if (cd == reinterpret_cast<iconv_t>(-1))
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("the source database's encoding is {}, which pgmorph cannot read the "
                    "replication stream in (wal2json sends text in the database's encoding; "
                    "pgmorph converts it to UTF-8 for UTF8, SQL_ASCII, the LATIN, WIN, ISO_8859, "
                    "KOI8 and EUC encodings)",
                    serverEncoding));
  handle_ = cd;
}

Utf8Transcoder::~Utf8Transcoder() {
  if (handle_) iconv_close(asIconv(handle_));
}

Utf8Transcoder::Utf8Transcoder(Utf8Transcoder&& other) noexcept
    : serverEncoding_(std::move(other.serverEncoding_)),
      handle_(std::exchange(other.handle_, nullptr)) {}

Utf8Transcoder& Utf8Transcoder::operator=(Utf8Transcoder&& other) noexcept {
  if (this != &other) {
    if (handle_) iconv_close(asIconv(handle_));
    serverEncoding_ = std::move(other.serverEncoding_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

std::string_view Utf8Transcoder::toUtf8(std::string_view text, std::string& buffer) const {
  if (!handle_ || std::none_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; }))
    return text;
  // Every server encoding's character takes at most 4 bytes in UTF-8, and at least 1 in its own.
  buffer.resize(text.size() * 4);
  iconv(asIconv(handle_), nullptr, nullptr, nullptr, nullptr);  // the initial state
  char* in = const_cast<char*>(text.data());  // iconv's signature; it does not write there
  std::size_t inLeft = text.size();
  char* out = buffer.data();
  std::size_t outLeft = buffer.size();
  if (iconv(asIconv(handle_), &in, &inLeft, &out, &outLeft) == static_cast<std::size_t>(-1))
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("text from the source is not valid {} at byte {} of {}: cannot convert it to "
                    "UTF-8 ({})",
                    serverEncoding_, text.size() - inLeft, text.size(),
                    errno == EILSEQ ? "invalid sequence" : "incomplete sequence"));
  buffer.resize(buffer.size() - outLeft);
  return buffer;
}

}  // namespace pgmorph
