// Uuid: 16 bytes, value type, with the canonical text form. UuidV5 derives the
// deterministic id of a legacy key (RFC 4122 name-based, SHA-1; Boost.Uuid does the hash).
// Part of the model: the ids transform makes are the ones sink writes and state keeps.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgmorph {

class Uuid {
 public:
  std::array<std::uint8_t, 16> bytes{};

  // Parses the canonical 8-4-4-4-12 form; throws std::invalid_argument otherwise.
  static Uuid parse(std::string_view text);
  std::string str() const;
  // Writes the 36-character canonical form into out (no allocation).
  void format(char* out36) const;
  bool isNil() const;
  auto operator<=>(const Uuid&) const = default;
};

struct UuidHash {
  std::size_t operator()(const Uuid& u) const noexcept;
};

// uuid_v5(namespace, name): same result as PostgreSQL's uuid-ossp uuid_generate_v5.
Uuid uuidV5(const Uuid& ns, std::string_view name);

}  // namespace pgmorph
