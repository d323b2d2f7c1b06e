#include "transform/Uuid.h"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>

#include <cstring>
#include <stdexcept>

namespace pgmorph {

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Uuid Uuid::parse(std::string_view text) {
  Uuid u;
  std::size_t pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (pos < text.size() && text[pos] == '-' && (pos == 8 || pos == 13 || pos == 18 || pos == 23))
      ++pos;
    if (pos + 2 > text.size()) throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
    int hi = hexValue(text[pos]), lo = hexValue(text[pos + 1]);
    if (hi < 0 || lo < 0) throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
    u.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    pos += 2;
  }
  if (pos != text.size() || text.size() != 36)
    throw std::invalid_argument("'" + std::string(text) + "' is not a UUID");
  return u;
}

void Uuid::format(char* out) const {
  // Two hex digits per byte from one table lookup: ids are formatted on the hot path.
  static constexpr auto pairs = [] {
    std::array<char, 512> t{};
    constexpr char digits[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      t[2 * i] = digits[i >> 4];
      t[2 * i + 1] = digits[i & 0xF];
    }
    return t;
  }();
  int o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    std::memcpy(out + o, &pairs[2 * bytes[i]], 2);
    o += 2;
  }
}

std::string Uuid::str() const {
  std::string s(36, '\0');
  format(s.data());
  return s;
}

bool Uuid::isNil() const {
  for (auto b : bytes)
    if (b) return false;
  return true;
}

std::size_t UuidHash::operator()(const Uuid& u) const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, u.bytes.data(), 8);
  std::memcpy(&b, u.bytes.data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ULL));
}

Uuid uuidV5(const Uuid& ns, std::string_view name) {
  boost::uuids::uuid bns;
  std::memcpy(bns.data, ns.bytes.data(), 16);
  boost::uuids::name_generator_sha1 gen(bns);
  boost::uuids::uuid id = gen(name.data(), name.size());
  Uuid out;
  std::memcpy(out.bytes.data(), id.data, 16);
  return out;
}

}  // namespace pgmorph
