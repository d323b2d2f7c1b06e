#include "cdc/model/Change.h"

namespace pgmorph {

std::string_view toString(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::Begin:
      return "begin";
    case ChangeKind::Commit:
      return "commit";
    case ChangeKind::Insert:
      return "insert";
    case ChangeKind::Update:
      return "update";
    case ChangeKind::Delete:
      return "delete";
    case ChangeKind::Truncate:
      return "truncate";
    case ChangeKind::Message:
      return "message";
  }
  return "unknown";
}

void Change::clear() {
  kind = ChangeKind::Begin;
  xid = 0;
  lsn = Lsn();
  nextLsn = Lsn();
  commitTimeMicros = 0;
  transactional = false;
  arena_.clear();
  schema_ = table_ = prefix_ = content_ = Slice{};
  columns_.clear();
  identity_.clear();
}

char* Change::adoptMessage(std::string_view message) {
  clear();
  static constexpr std::string_view kLiterals = "falsetrue";
  arena_.reserve(kLiterals.size() + message.size() + 1 + kMessagePadding);
  arena_.append(kLiterals);
  arena_.append(message);
  arena_.append(1 + kMessagePadding, '\0');
  return arena_.data() + kLiterals.size();
}

Slice Change::store(std::string_view s) {
  Slice slice{static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(s.size())};
  arena_.append(s);
  return slice;
}

void Change::addColumn(std::string_view name, std::string_view type, std::string_view value,
                       ValueKind kind) {
  columns_.push_back(ColumnSlices{store(name), store(type), store(value), kind});
}

void Change::addIdentity(std::string_view name, std::string_view type, std::string_view value,
                         ValueKind kind) {
  identity_.push_back(ColumnSlices{store(name), store(type), store(value), kind});
}

const ColumnSlices* Change::findColumn(std::string_view name) const {
  for (const auto& c : columns_)
    if (text(c.name) == name) return &c;
  return nullptr;
}

const ColumnSlices* Change::findIdentity(std::string_view name) const {
  for (const auto& c : identity_)
    if (text(c.name) == name) return &c;
  return nullptr;
}

}  // namespace pgmorph
