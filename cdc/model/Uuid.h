// Uuid: 16 bytes, value type, with the canonical text form. UuidV5 derives the
// deterministic id of a legacy key (RFC 4122 name-based, SHA-1; Boost.Uuid does the hash).
// Part of the model: the ids transform makes are the ones sink writes and state keeps.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
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
  // Two 8-byte compares: the defaulted one calls memcmp, which the parent checker's cache
  // and the batch key sets spend several per cent of pgmorph's CPU in (perf, snapshot).
  bool operator==(const Uuid& other) const noexcept {
    std::uint64_t a[2], b[2];
    std::memcpy(a, bytes.data(), 16);
    std::memcpy(b, other.bytes.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }
};

struct UuidHash {
  std::size_t operator()(const Uuid& u) const noexcept;
};

// uuid_v5(namespace, name): same result as PostgreSQL's uuid-ossp uuid_generate_v5.
Uuid uuidV5(const Uuid& ns, std::string_view name);

}  // namespace pgmorph
