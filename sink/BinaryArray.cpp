#include "sink/BinaryArray.h"

#include <boost/endian/conversion.hpp>

#include <cstring>
#include <stdexcept>

namespace pgmorph {

namespace {
constexpr std::size_t kHeader = 20;  // ndim, flags, element OID, length, lower bound

void store32(std::string& out, std::size_t at, std::uint32_t v) {
  boost::endian::store_big_u32(reinterpret_cast<unsigned char*>(out.data() + at), v);
}

struct TypeOids {
  std::uint32_t element, array;
};

TypeOids oidsOf(BinaryType type) {
  switch (type) {
    case BinaryType::Uuid:
      return {2950, 2951};
    case BinaryType::Text:
      return {25, 1009};
    case BinaryType::Int2:
      return {21, 1005};
    case BinaryType::Int4:
      return {23, 1007};
    case BinaryType::Int8:
      return {20, 1016};
    case BinaryType::Bool:
      return {16, 1000};
    case BinaryType::Numeric:
      return {1700, 1231};
    case BinaryType::Date:
      return {1082, 1182};
    case BinaryType::Timestamp:
      return {1114, 1115};
    case BinaryType::Timestamptz:
      return {1184, 1185};
    case BinaryType::Jsonb:
      return {3802, 3807};
  }
  throw std::logic_error("BinaryArray: unknown type");
}
}  // namespace

std::uint32_t BinaryArray::elementOid(BinaryType type) {
  return oidsOf(type).element;
}

std::uint32_t BinaryArray::arrayOid(BinaryType type) {
  return oidsOf(type).array;
}

std::string_view BinaryArray::sqlElementType(BinaryType type, std::string_view columnType) {
  return type == BinaryType::Text ? std::string_view("text") : columnType;
}

void BinaryArray::reset(BinaryType type) {
  type_ = type;
  buffer_.assign(kHeader, '\0');
  count_ = 0;
  nulls_ = false;
}

bool BinaryArray::add(std::string_view text) {
  // The server refuses a NUL byte in any text; the text path names the row that holds one.
  if ((type_ == BinaryType::Text || type_ == BinaryType::Jsonb) &&
      std::memchr(text.data(), '\0', text.size()))
    return false;
  if (!CopyBinaryEncoder::appendValue(buffer_, type_, text)) return false;
  ++count_;
  return true;
}

void BinaryArray::addUuid(const Uuid& id) {
  if (type_ != BinaryType::Uuid) throw std::logic_error("BinaryArray::addUuid: not a uuid array");
  CopyBinaryEncoder::appendUuid(buffer_, id);
  ++count_;
}

void BinaryArray::addNull() {
  CopyBinaryEncoder::appendNull(buffer_);
  nulls_ = true;
  ++count_;
}

std::string_view BinaryArray::bytes() {
  if (count_ == 0) {
    // No dimensions: ndim 0, no length and lower bound.
    store32(buffer_, 0, 0);
    store32(buffer_, 4, 0);
    store32(buffer_, 8, elementOid(type_));
    return std::string_view(buffer_.data(), 12);
  }
  store32(buffer_, 0, 1);
  store32(buffer_, 4, nulls_ ? 1 : 0);
  store32(buffer_, 8, elementOid(type_));
  store32(buffer_, 12, static_cast<std::uint32_t>(count_));
  store32(buffer_, 16, 1);
  return buffer_;
}

}  // namespace pgmorph
