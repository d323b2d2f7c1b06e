// Lsn: a PostgreSQL WAL position as a value type (uint64_t inside), parsed from and
// formatted to the server's "X/X" text form. Comparisons are plain integer comparisons,
// which is exactly WAL order.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgmorph {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(std::uint64_t value) : value_(value) {}

  // Parses "16/B374D848". Throws std::invalid_argument naming the text when malformed.
  static Lsn parse(std::string_view text);
  // Same, but returns false instead of throwing (for hot paths that report their own error).
  static bool tryParse(std::string_view text, Lsn& out) noexcept;

  constexpr std::uint64_t value() const { return value_; }
  constexpr bool isZero() const { return value_ == 0; }
  std::string str() const;

  constexpr auto operator<=>(const Lsn&) const = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace pgmorph
