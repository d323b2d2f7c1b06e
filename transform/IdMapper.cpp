#include "transform/IdMapper.h"

#include <cstring>

namespace pgmorph {

namespace {

Uuid fromDigest(const Sha1::Digest& d) {
  Uuid u;
  for (int i = 0; i < 16; ++i) u.bytes[i] = d[i];
  // RFC 4122 section 4.3: version 5 in the high nibble of byte 6, variant 10xx in byte 8.
  u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0F) | 0x50);
  u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3F) | 0x80);
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
  return fromDigest(sha.finish());
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
  return fromDigest(sha.finish());
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
