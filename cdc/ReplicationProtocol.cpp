#include "cdc/ReplicationProtocol.h"

#include <boost/endian/conversion.hpp>

#include <chrono>

namespace pgmorph::replication {

namespace {
// The protocol's integers are big-endian, at unaligned offsets of the message.
std::uint64_t loadBig64(const char* p) {
  return boost::endian::load_big_u64(reinterpret_cast<const unsigned char*>(p));
}
void storeBig64(char* p, std::uint64_t v) {
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(p), v);
}
}  // namespace

std::int64_t pgNowMicros() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return unixToPgMicros(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

bool parseXLogData(std::string_view msg, XLogDataHeader& header, std::string_view& payload) {
  if (msg.size() < kXLogDataHeaderSize || msg[0] != 'w') return false;
  header.dataStart = Lsn(loadBig64(msg.data() + 1));
  header.walEnd = Lsn(loadBig64(msg.data() + 9));
  header.sendTime = static_cast<std::int64_t>(loadBig64(msg.data() + 17));
  payload = msg.substr(kXLogDataHeaderSize);
  return true;
}

bool parseKeepalive(std::string_view msg, Keepalive& keepalive) {
  if (msg.size() < kKeepaliveSize || msg[0] != 'k') return false;
  keepalive.walEnd = Lsn(loadBig64(msg.data() + 1));
  keepalive.sendTime = static_cast<std::int64_t>(loadBig64(msg.data() + 9));
  keepalive.replyRequested = msg[17] != 0;
  return true;
}

std::array<char, kStandbyStatusSize> encodeStandbyStatus(Lsn write, Lsn flush, Lsn apply,
                                                         std::int64_t clientTimePgMicros,
                                                         bool replyRequested) {
  std::array<char, kStandbyStatusSize> out{};
  out[0] = 'r';
  storeBig64(out.data() + 1, write.value());
  storeBig64(out.data() + 9, flush.value());
  storeBig64(out.data() + 17, apply.value());
  storeBig64(out.data() + 25, static_cast<std::uint64_t>(clientTimePgMicros));
  out[33] = replyRequested ? 1 : 0;
  return out;
}

}  // namespace pgmorph::replication
