#include "cdc/model/Lsn.h"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace pgmorph {

namespace {
bool parseHex(std::string_view part, std::uint32_t& out) {
  if (part.empty() || part.size() > 8) return false;
  auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), out, 16);
  return ec == std::errc() && ptr == part.data() + part.size();
}
}  // namespace

bool Lsn::tryParse(std::string_view text, Lsn& out) noexcept {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::uint32_t hi = 0, lo = 0;
  if (!parseHex(text.substr(0, slash), hi) || !parseHex(text.substr(slash + 1), lo)) return false;
  out = Lsn((static_cast<std::uint64_t>(hi) << 32) | lo);
  return true;
}

Lsn Lsn::parse(std::string_view text) {
  Lsn lsn;
  if (!tryParse(text, lsn))
    throw std::invalid_argument(
        fmt::format("'{}' is not an LSN (expected the form 16/B374D848)", text));
  return lsn;
}

std::string Lsn::str() const {
  return fmt::format("{:X}/{:X}", static_cast<std::uint32_t>(value_ >> 32),
                     static_cast<std::uint32_t>(value_));
}

}  // namespace pgmorph
