#include "cdc/ReplicationProtocol.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/endian/conversion.hpp>

namespace pgmorph {
namespace {

void putBigEndian64(char* p, std::uint64_t v) {
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(p), v);
}

TEST(ReplicationProtocol, StandbyStatusIs34BigEndianBytes) {
  auto msg =
      replication::encodeStandbyStatus(Lsn(0x0000000116B37480ULL), Lsn(0x1122334455667788ULL),
                                       Lsn(0x99AABBCCDDEEFF00ULL), 0x0102030405060708LL, true);
  ASSERT_EQ(msg.size(), 34u);
  std::string expected = std::string("r", 1) + std::string("\x00\x00\x00\x01\x16\xB3\x74\x80", 8) +
                         std::string("\x11\x22\x33\x44\x55\x66\x77\x88", 8) +
                         std::string("\x99\xAA\xBB\xCC\xDD\xEE\xFF\x00", 8) +
                         std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) +
                         std::string("\x01", 1);
  EXPECT_EQ(std::string(msg.data(), msg.size()), expected);
  auto noReply = replication::encodeStandbyStatus(Lsn(), Lsn(), Lsn(), 0, false);
  EXPECT_EQ(noReply[33], 0);
}

TEST(ReplicationProtocol, ParsesXLogDataHeaderAndPayload) {
  std::string msg(1, 'w');
  char buf[8];
  putBigEndian64(buf, 0x16B3748);
  msg.append(buf, 8);
  putBigEndian64(buf, 0x16B3780);
  msg.append(buf, 8);
  putBigEndian64(buf, 777);
  msg.append(buf, 8);
  msg += R"({"action":"B"})";
  replication::XLogDataHeader h;
  std::string_view payload;
  ASSERT_TRUE(replication::parseXLogData(msg, h, payload));
  EXPECT_EQ(h.dataStart, Lsn(0x16B3748));
  EXPECT_EQ(h.walEnd, Lsn(0x16B3780));
  EXPECT_EQ(h.sendTime, 777);
  EXPECT_EQ(payload, R"({"action":"B"})");
  EXPECT_FALSE(replication::parseXLogData(std::string_view(msg).substr(0, 24), h, payload));
  msg[0] = 'k';
  EXPECT_FALSE(replication::parseXLogData(msg, h, payload));
}

TEST(ReplicationProtocol, ParsesKeepalive) {
  std::string msg(1, 'k');
  char buf[8];
  putBigEndian64(buf, 0xABCDEF0123ULL);
  msg.append(buf, 8);
  putBigEndian64(buf, 5);
  msg.append(buf, 8);
  msg.push_back('\x01');
  replication::Keepalive k;
  ASSERT_TRUE(replication::parseKeepalive(msg, k));
  EXPECT_EQ(k.walEnd, Lsn(0xABCDEF0123ULL));
  EXPECT_EQ(k.sendTime, 5);
  EXPECT_TRUE(k.replyRequested);
  msg.back() = '\0';
  ASSERT_TRUE(replication::parseKeepalive(msg, k));
  EXPECT_FALSE(k.replyRequested);
  EXPECT_FALSE(replication::parseKeepalive(std::string_view(msg).substr(0, 17), k));
}

TEST(ReplicationProtocol, ClockIsMicrosecondsSince2000) {
  EXPECT_EQ(replication::unixToPgMicros(946684800LL * 1000000), 0);
  EXPECT_EQ(replication::pgToUnixMicros(0), 946684800LL * 1000000);
  // Now is well after 2020 and before 2100 in the protocol's clock.
  std::int64_t now = replication::pgNowMicros();
  EXPECT_GT(now, 20LL * 365 * 86400 * 1000000);
  EXPECT_LT(now, 100LL * 366 * 86400 * 1000000);
}

}  // namespace
}  // namespace pgmorph
