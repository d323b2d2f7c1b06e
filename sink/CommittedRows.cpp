#include "sink/CommittedRows.h"

#include <mutex>

namespace pgmorph {

void CommittedRows::add(const std::string& table, std::span<const Uuid> ids) {
  if (ids.empty()) return;
  std::unique_lock lock(mutex_);
  UuidSet& set = tables_[table];
  for (const Uuid& id : ids) {
    if (size_ >= limit_) return;
    if (set.insert(id)) ++size_;
  }
}

void CommittedRows::remove(const std::string& table, const Uuid& id) {
  std::unique_lock lock(mutex_);
  auto it = tables_.find(table);
  if (it != tables_.end() && it->second.erase(id)) --size_;
}

void CommittedRows::removeTable(const std::string& table) {
  std::unique_lock lock(mutex_);
  auto it = tables_.find(table);
  if (it == tables_.end()) return;
  size_ -= it->second.size();
  it->second.clear();
}

std::size_t CommittedRows::find(const std::string& table, std::span<const Uuid> ids,
                                std::vector<char>& found) const {
  std::shared_lock lock(mutex_);
  auto it = tables_.find(table);
  if (it == tables_.end()) return 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!found[i] && it->second.contains(ids[i])) {
      found[i] = 1;
      ++n;
    }
  return n;
}

std::size_t CommittedRows::size() const {
  std::shared_lock lock(mutex_);
  return size_;
}

}  // namespace pgmorph
