#include "transform/IdMapper.h"

#include <bit>
#include <cstring>

namespace pgmorph {

namespace {

// The first 16 bytes of the digest, built as two 64-bit halves in registers and stored
// whole: writing them byte by byte made the next 8- or 16-byte read of the id (copying it,
// formatting it) wait for those stores to drain.
Uuid fromDigest(const std::array<std::uint32_t, 5>& h) {
  static_assert(std::endian::native == std::endian::little, "ids are assembled little-endian");
  const std::uint64_t front =
      __builtin_bswap32(h[0]) | static_cast<std::uint64_t>(__builtin_bswap32(h[1])) << 32;
  std::uint64_t back = __builtin_bswap32(h[2]) | static_cast<std::uint64_t>(__builtin_bswap32(h[3]))
                                                     << 32;
  // RFC 4122 section 4.3: version 5 in the high nibble of byte 6, variant 10xx in byte 8
  // (bytes in memory order: byte 6 is bits 48-55 of the little-endian front half).
  const std::uint64_t versioned = (front & ~(0xF0ull << 48)) | (0x50ull << 48);
  back = (back & ~0xC0ull) | 0x80ull;
  Uuid u;
  std::memcpy(u.bytes.data(), &versioned, 8);
  std::memcpy(u.bytes.data() + 8, &back, 8);
  return u;
}

// Feeds one composite-key part with its escapes, in runs, so that no copy is made.
void updateEscaped(Sha1& sha, std::string_view part) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (part[i] == '\\' || part[i] == ',') {
      sha.update(part.substr(start, i - start));
      sha.update("\\", 1);
      start = i;  // the character itself goes out with the next run
    }
  }
  sha.update(part.substr(start));
}

}  // namespace

IdMapper::IdMapper(const Uuid& ns) : ns_(ns) {}

IdMapper::TableIds IdMapper::forTable(std::string_view table) const {
  TableIds ids;
  ids.table_ = std::string(table);
  ids.prefix_.update(ns_.bytes.data(), ns_.bytes.size());
  ids.prefix_.update(table);
  ids.prefix_.update(":", 1);
  return ids;
}

Uuid IdMapper::TableIds::compute(std::string_view key) const {
  Sha1 sha = prefix_;
  sha.update(key);
  return fromDigest(sha.finishWords());
}

Uuid IdMapper::TableIds::operator()(std::string_view key) const {
  if (key.size() > kMemoKeyBytes) return compute(key);
  // FNV-1a: keys are short digit strings, this spreads them well enough.
  std::uint32_t h = 2166136261u;
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  if (memo_.empty()) memo_.resize(kMemoSlots);
  MemoSlot& slot = memo_[(h ^ (h >> 16)) % kMemoSlots];
  if (slot.length == key.size() && std::memcmp(slot.key, key.data(), key.size()) == 0)
    return slot.id;
  slot.id = compute(key);
  slot.length = static_cast<std::uint8_t>(key.size());
  std::memcpy(slot.key, key.data(), key.size());
  return slot.id;
}

Uuid IdMapper::TableIds::composite(std::span<const std::string_view> parts) const {
  Sha1 sha = prefix_;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) sha.update(",", 1);
    updateEscaped(sha, parts[i]);
  }
  return fromDigest(sha.finishWords());
}

const IdMapper::TableIds& IdMapper::shared(std::string_view table) {
  auto it = shared_.find(table);
  if (it == shared_.end())
    it = shared_.emplace(std::string(table), std::make_unique<TableIds>(forTable(table))).first;
  return *it->second;
}

Uuid IdMapper::id(std::string_view table, std::string_view key) const {
  return forTable(table).compute(key);
}

Uuid IdMapper::id(std::string_view table, std::span<const std::string_view> parts) const {
  return forTable(table).composite(parts);
}

void IdMapper::appendKeyPart(std::string& out, std::string_view part) {
  for (char c : part) {
    if (c == '\\' || c == ',') out.push_back('\\');
    out.push_back(c);
  }
}

void IdMapper::appendCompositeKey(std::string& out, std::span<const std::string_view> parts) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out.push_back(',');
    appendKeyPart(out, parts[i]);
  }
}

std::string IdMapper::compositeKey(std::span<const std::string_view> parts) {
  std::string out;
  appendCompositeKey(out, parts);
  return out;
}

}  // namespace pgmorph
