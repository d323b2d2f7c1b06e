#include "sink/UuidSet.h"

#include <cstring>

namespace pgmorph {

std::size_t UuidSet::home(const Uuid& id) const {
  std::uint64_t a, b;
  std::memcpy(&a, id.bytes.data(), 8);
  std::memcpy(&b, id.bytes.data() + 8, 8);
  // Fibonacci hashing: the high bits of the product, as many as the capacity needs.
  const std::uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0x9E3779B97F4A7C15ULL;
  return static_cast<std::size_t>(h >> 32) & (slots_.size() - 1);
}

bool UuidSet::contains(const Uuid& id) const {
  if (size_ == 0) return false;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = home(id);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) return false;
    if (s.id == id) return true;
  }
}

bool UuidSet::insert(const Uuid& id) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = home(id);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.used) {
      s.id = id;
      s.used = true;
      ++size_;
      return true;
    }
    if (s.id == id) return false;
  }
}

bool UuidSet::erase(const Uuid& id) {
  if (size_ == 0) return false;
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = home(id);
  for (;; i = (i + 1) & mask) {
    if (!slots_[i].used) return false;
    if (slots_[i].id == id) break;
  }
  // Backward shift: move up every following entry whose home is not between the hole and it,
  // so that no probe sequence crosses an empty slot it used to find its key past.
  for (std::size_t j = (i + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
    const std::size_t k = home(slots_[j].id);
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i].used = false;
  --size_;
  return true;
}

void UuidSet::clear() {
  if (size_ == 0) return;
  for (Slot& s : slots_) s.used = false;
  size_ = 0;
}

void UuidSet::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  size_ = 0;
  for (const Slot& s : old)
    if (s.used) insert(s.id);
}

}  // namespace pgmorph
