#include "transform/TargetWrite.h"

namespace pgmorph {

std::string_view toString(WriteOp op) {
  switch (op) {
    case WriteOp::Upsert:
      return "upsert";
    case WriteOp::Delete:
      return "delete";
    case WriteOp::SetColumns:
      return "set-columns";
    case WriteOp::Release:
      return "release";
    case WriteOp::Truncate:
      return "truncate";
  }
  return "unknown";
}

void TargetWrite::clear() {
  op = WriteOp::Upsert;
  plan = nullptr;
  row = Uuid();
  hasRow = true;
  rowOptional = false;
  fresh = false;
  lsn = Lsn();
  arena_.clear();
  legacyKey_ = Slice{};
  values_.clear();
}

Slice TargetWrite::store(std::string_view s) {
  Slice slice{static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(s.size())};
  arena_.append(s);
  return slice;
}

Slice TargetWrite::store(std::string_view a, std::string_view b) {
  Slice slice{static_cast<std::uint32_t>(arena_.size()),
              static_cast<std::uint32_t>(a.size() + b.size())};
  arena_.append(a);
  arena_.append(b);
  return slice;
}

TargetWrite& WriteBatch::next() {
  if (size_ == writes_.size()) writes_.emplace_back();
  TargetWrite& w = writes_[size_++];
  w.clear();
  return w;
}

}  // namespace pgmorph
