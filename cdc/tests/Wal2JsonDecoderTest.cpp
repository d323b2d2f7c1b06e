// Unit tests of Wal2JsonDecoder on hand-written messages: exact field decoding, skipping of
// unknown fields, JSON escapes, reuse without allocation, and errors that name the LSN.
// (Messages captured from a real server are in Wal2JsonGoldenTest.)
#include "cdc/Wal2JsonDecoder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <fmt/format.h>

#include "cdc/DecodeError.h"

// Counts heap allocations made while `g_counting` is set, to prove the hot path does none.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// GCC cannot see that these replace the global pair and warns about new/free mismatches.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace pgmorph {
namespace {

const Lsn kAt = Lsn::parse("0/16B3748");

Change decode(std::string_view json) {
  Wal2JsonDecoder decoder;
  Change c;
  decoder.decode(json, kAt, c);
  return c;
}

// The DecodeError message for `json`; fails the test if it decodes.
std::string errorOf(std::string_view json) {
  try {
    decode(json);
  } catch (const DecodeError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_EQ(e.lsn(), kAt);
    std::string msg = e.what();
    EXPECT_NE(msg.find("0/16B3748"), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "decoded without error: " << json;
  return {};
}

TEST(Wal2JsonDecoder, DecodesBeginAndCommitPositionsAndTime) {
  Change b = decode(
      R"j({"action":"B","xid":771,"timestamp":"2025-01-01 10:00:00.123456+00","lsn":"0/16B3748","nextlsn":"0/16B3780"})j");
  EXPECT_EQ(b.kind, ChangeKind::Begin);
  EXPECT_EQ(b.xid, 771u);
  EXPECT_EQ(b.lsn, Lsn::parse("0/16B3748"));
  EXPECT_EQ(b.nextLsn, Lsn::parse("0/16B3780"));
  EXPECT_EQ(b.commitTimeMicros, 1735725600123456);  // date -d '2025-01-01 10:00:00Z' +%s
  Change c = decode(
      R"j({"action":"C","xid":4294967295,"timestamp":"2025-01-01 10:00:00.1+00","lsn":"1/0","nextlsn":"FFFFFFFF/FFFFFFFF"})j");
  EXPECT_EQ(c.kind, ChangeKind::Commit);
  EXPECT_EQ(c.xid, 4294967295u);
  EXPECT_EQ(c.commitTimeMicros, 1735725600100000);
  EXPECT_EQ(c.nextLsn.value(), 0xFFFFFFFFFFFFFFFFULL);
}

// One decoder remembers the last timestamp text it parsed (every row of a transaction repeats
// it): a repeat, a new value, a null and a bad text after a good one must each come out right.
TEST(Wal2JsonDecoder, RepeatedTimestampsDecodeLikeFreshOnes) {
  Wal2JsonDecoder decoder;
  Change c;
  auto timeOf = [&](std::string_view ts) {
    decoder.decode(fmt::format(R"j({{"action":"B","xid":1,"timestamp":{},"lsn":"0/1"}})j", ts), kAt,
                   c);
    return c.commitTimeMicros;
  };
  EXPECT_EQ(timeOf(R"("2025-01-01 10:00:00.123456+00")"), 1735725600123456);
  EXPECT_EQ(timeOf(R"("2025-01-01 10:00:00.123456+00")"), 1735725600123456);
  EXPECT_EQ(timeOf("null"), 0);
  EXPECT_EQ(timeOf(R"("2025-01-01 10:00:00.123456+00")"), 1735725600123456);
  EXPECT_EQ(timeOf(R"("2025-01-01 10:00:01+00")"), 1735725601000000);
  EXPECT_THROW(timeOf(R"("2025-01-01 10:00:01 EST")"), DecodeError);
  EXPECT_EQ(timeOf(R"("2025-01-01 10:00:01+00")"), 1735725601000000);
}

TEST(Wal2JsonDecoder, KeepsEveryValueKindAndTheExactNumberText) {
  Change c =
      decode(R"j({"action":"I","xid":5,"lsn":"0/10","schema":"s","table":"t","columns":[)j"
             R"j({"name":"id","type":"bigint","value":14526741},)j"
             R"j({"name":"price","type":"numeric(12,2)","value":16040.59},)j"
             R"j({"name":"huge","type":"numeric","value":12345678901234567890.123456789},)j"
             R"j({"name":"exp","type":"double precision","value":-1.5e-300},)j"
             R"j({"name":"ok","type":"boolean","value":false},)j"
             R"j({"name":"n","type":"text","value":null},)j"
             R"j({"name":"s","type":"text","value":"a\"b\\c\/d\n\t\u00e9\ud834\udd1e\u0001"}]})j");
  ASSERT_EQ(c.columnCount(), 7u);
  EXPECT_EQ(c.schema(), "s");
  EXPECT_EQ(c.table(), "t");
  EXPECT_EQ(c.column(0).value, "14526741");
  EXPECT_EQ(c.column(0).kind, ValueKind::Number);
  EXPECT_EQ(c.column(0).type, "bigint");
  EXPECT_EQ(c.column(1).value, "16040.59");
  EXPECT_EQ(c.column(2).value, "12345678901234567890.123456789");
  EXPECT_EQ(c.column(3).value, "-1.5e-300");
  EXPECT_EQ(c.column(4).value, "false");
  EXPECT_EQ(c.column(4).kind, ValueKind::Bool);
  EXPECT_TRUE(c.column(5).isNull());
  EXPECT_EQ(c.column(5).value, "");
  EXPECT_EQ(c.column(6).kind, ValueKind::String);
  EXPECT_EQ(c.column(6).value, "a\"b\\c/d\n\t\xC3\xA9\xF0\x9D\x84\x9E\x01");
  EXPECT_EQ(c.identityCount(), 0u);
}

// Strings are scanned 16 bytes at a time from wherever they start (PaddedInsituStream), and
// after an escape the rest is moved down while being scanned. Every string length around the
// block size, escapes at every position, and every start offset modulo 16 (the table name's
// length shifts the whole message) must come out exactly.
TEST(Wal2JsonDecoder, UnescapesStringsOfAnyLengthAtAnyOffset) {
  Wal2JsonDecoder decoder;
  Change c;
  const std::string_view escapes[][2] = {
      {R"(\")", "\""}, {R"(\\)", "\\"}, {R"(\n)", "\n"}, {R"(\u00e9)", "\xC3\xA9"}};
  int checked = 0;
  for (std::size_t shift = 0; shift < 16; ++shift) {
    std::string table = "t" + std::string(shift, 'x');
    for (std::size_t length = 0; length <= 40; ++length) {
      for (std::size_t at = 0; at <= length; at += (length < 20 ? 1 : 7)) {
        const auto& e = escapes[(length + at) % 4];
        std::string plain(length, 'a'), json, expected;
        for (std::size_t i = 0; i < length; ++i) plain[i] = static_cast<char>('a' + i % 26);
        json = plain.substr(0, at) + std::string(e[0]) + plain.substr(at) + std::string(e[0]);
        expected = plain.substr(0, at) + std::string(e[1]) + plain.substr(at) + std::string(e[1]);
        std::string msg =
            fmt::format(R"({{"action":"I","xid":5,"schema":"s","table":"{}","columns":[)"
                        R"({{"name":"{}","value":"{}"}},{{"name":"b","value":"{}"}}]}})",
                        table, plain, json, plain);
        ASSERT_NO_THROW(decoder.decode(msg, kAt, c)) << msg;
        ASSERT_EQ(c.table(), table);
        ASSERT_EQ(c.columnCount(), 2u);
        ASSERT_EQ(c.column(0).name, plain) << msg;
        ASSERT_EQ(c.column(0).value, expected) << msg;
        ASSERT_EQ(c.column(1).value, plain) << msg;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 4000);
}

TEST(Wal2JsonDecoder, ControlCharactersAndAMissingQuoteAreErrors) {
  for (std::size_t pad = 0; pad < 20; ++pad) {
    std::string before(pad, 'v');
    std::string raw = R"({"action":"I","xid":5,"schema":"s","table":"t","columns":[)"
                      R"({"name":"a","value":")" +
                      before + "\x01z\"}]}";
    EXPECT_NE(errorOf(raw).find("Invalid escape"), std::string::npos) << raw;
    std::string open = R"({"action":"I","xid":5,"schema":"s","table":"t","columns":[)"
                       R"({"name":"a","value":")" +
                       before;
    EXPECT_NE(errorOf(open).find("Missing a closing quotation mark"), std::string::npos) << open;
  }
}

TEST(Wal2JsonDecoder, SkipsFieldsItDoesNotKnowWhateverTheirShape) {
  Change c = decode(
      R"j({"action":"U","xid":9,"origin":"node_a","timestamp":null,"lsn":"0/20","schema":"s","table":"t",)j"
      R"j("extra":{"deep":[1,{"x":[[],{}]},"s"],"k":null},)j"
      R"j("columns":[{"name":"id","type":"integer","typeoid":23,"value":2,"meta":{"a":[1,2]}},)j"
      R"j({"name":"v","type":"text","value":"x","optional":true}],)j"
      R"j("identity":[{"name":"id","type":"integer","value":1}],)j"
      R"j("pk":[{"name":"id","type":"integer"}],"trailing":[1,2,3]})j");
  EXPECT_EQ(c.kind, ChangeKind::Update);
  ASSERT_EQ(c.columnCount(), 2u);
  EXPECT_EQ(c.column(0).name, "id");
  EXPECT_EQ(c.column(0).value, "2");
  EXPECT_EQ(c.column(1).value, "x");
  ASSERT_EQ(c.identityCount(), 1u);
  EXPECT_EQ(c.identity(0).value, "1");
  EXPECT_EQ(c.commitTimeMicros, 0);
}

TEST(Wal2JsonDecoder, NonTransactionalMessageHasNullXidAndTime) {
  Change m = decode(
      R"j({"action":"M","xid":null,"timestamp":null,"lsn":"0/154B3F0","transactional":false,"prefix":"p","content":"a\nb"})j");
  EXPECT_EQ(m.kind, ChangeKind::Message);
  EXPECT_EQ(m.xid, 0u);
  EXPECT_EQ(m.commitTimeMicros, 0);
  EXPECT_FALSE(m.transactional);
  EXPECT_EQ(m.prefix(), "p");
  EXPECT_EQ(m.content(), "a\nb");
  EXPECT_EQ(m.lsn, Lsn::parse("0/154B3F0"));
}

TEST(Wal2JsonDecoder, DeleteAndTruncate) {
  Change d = decode(
      R"j({"action":"D","schema":"public","table":"t","identity":[{"name":"id","type":"integer","value":7}]})j");
  EXPECT_EQ(d.kind, ChangeKind::Delete);
  EXPECT_EQ(d.columnCount(), 0u);
  ASSERT_EQ(d.identityCount(), 1u);
  EXPECT_EQ(d.identity(0).value, "7");
  Change t = decode(R"j({"action":"T","xid":3,"schema":"public","table":"Weird \"n\""})j");
  EXPECT_EQ(t.kind, ChangeKind::Truncate);
  EXPECT_EQ(t.table(), "Weird \"n\"");
}

TEST(Wal2JsonDecoder, ClearsTheChangeBetweenMessages) {
  Wal2JsonDecoder decoder;
  Change c;
  decoder.decode(
      R"j({"action":"U","xid":1,"lsn":"0/1","schema":"s","table":"t","columns":[{"name":"a","type":"int","value":1}],"identity":[{"name":"a","type":"int","value":1}]})j",
      kAt, c);
  decoder.decode(R"j({"action":"B","xid":2})j", kAt, c);
  EXPECT_EQ(c.kind, ChangeKind::Begin);
  EXPECT_EQ(c.xid, 2u);
  EXPECT_EQ(c.lsn, Lsn());
  EXPECT_EQ(c.columnCount(), 0u);
  EXPECT_EQ(c.identityCount(), 0u);
  EXPECT_EQ(c.table(), "");
}

TEST(Wal2JsonDecoder, ReusingDecoderAndChangeAllocatesNothingOnceWarm) {
  const std::string msg =
      R"j({"action":"I","xid":771,"timestamp":"2025-01-01 10:00:00.123456+00","lsn":"0/16B3748",)j"
      R"j("schema":"public","table":"dispatch_instruction","columns":[)j"
      R"j({"name":"id","type":"integer","value":123456},)j"
      R"j({"name":"price","type":"numeric(12,2)","value":16040.59},)j"
      R"j({"name":"notes","type":"text","value":"line one\nline \"two\" with some more text to copy"},)j"
      R"j({"name":"submitted_at","type":"timestamp without time zone","value":"2024-03-01 12:00:00"},)j"
      R"j({"name":"doctor_id","type":"integer","value":null}]})j";
  Wal2JsonDecoder decoder;
  Change c;
  decoder.decode(msg, kAt, c);  // warm up: the Change and the reader's stack grow once
  decoder.decode(msg, kAt, c);
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 1000; ++i) decoder.decode(msg, kAt, c);
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(c.columnCount(), 5u);
}

TEST(Wal2JsonDecoder, TruncatedJsonNamesTheLsnAndShowsTheMessage) {
  std::string msg =
      errorOf(R"j({"action":"I","xid":5,"schema":"s","table":"t","columns":[{"name":"id","ty)j");
  EXPECT_NE(msg.find("{\"action\":\"I\",\"xid\":5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at byte"), std::string::npos) << msg;
}

TEST(Wal2JsonDecoder, UnknownOrMissingActionIsAnError) {
  EXPECT_NE(errorOf(R"j({"action":"X","xid":5})j").find("unknown action \"X\""), std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"INSERT"})j").find("unknown action"), std::string::npos);
  EXPECT_NE(errorOf(R"j({"xid":5,"lsn":"0/1"})j").find("no \"action\""), std::string::npos);
}

TEST(Wal2JsonDecoder, FieldsOfTheWrongTypeAreErrors) {
  EXPECT_NE(errorOf(R"j({"action":1})j").find("\"action\" must be a string, not a number"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"B","xid":"771"})j").find("\"xid\" must be a number"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"B","xid":-1})j").find("\"xid\" is not a transaction id"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"B","lsn":"nope"})j").find("\"lsn\" is not an LSN"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"I","schema":"s","table":"t","columns":5})j")
                .find("\"columns\" must be an array"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"I","schema":"s","table":"t","columns":{}})j")
                .find("\"columns\" must not be an object"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"I","schema":"s","table":"t","columns":[1]})j")
                .find("each entry of \"columns\" must be an object"),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"I","schema":"s","table":"t","columns":[{"name":1,"value":1}]})j")
                .find("column \"name\" must be a string"),
            std::string::npos);
  EXPECT_NE(
      errorOf(R"j({"action":"I","schema":"s","table":"t","columns":[{"name":"a","value":[1]}]})j")
          .find("\"value\" must not be an array"),
      std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"D","schema":"s","table":"t","identity":[{"name":"a"}]})j")
                .find("column \"a\" of \"identity\" has no \"value\""),
            std::string::npos);
  EXPECT_NE(errorOf(R"j({"action":"M","transactional":"yes"})j")
                .find("\"transactional\" must be a boolean"),
            std::string::npos);
  EXPECT_NE(
      errorOf(R"j({"action":"I","table":"t","columns":[]})j").find("\"schema\" and \"table\""),
      std::string::npos);
}

TEST(Wal2JsonDecoder, TimestampsNotInIsoUtcAreRejectedWithTheReason) {
  // What a session with PGDATESTYLE=German, PGTZ=America/New_York would produce.
  std::string msg = errorOf(R"j({"action":"B","xid":1,"timestamp":"01.03.2024 07:00:00 EST"})j");
  EXPECT_NE(msg.find("DateStyle=ISO"), std::string::npos) << msg;
}

TEST(Wal2JsonDecoder, NotOneObjectIsAnError) {
  errorOf("");
  errorOf("[]");
  errorOf("42");
  EXPECT_NE(errorOf(R"j({"action":"B"} {"action":"C"})j").find("at byte"), std::string::npos);
}

TEST(Wal2JsonDecoder, LongMessagesAreCutInTheError) {
  std::string big =
      R"j({"action":"I","schema":"s","table":"t","columns":[{"name":"v","type":"text","value":")j" +
      std::string(5000, 'x') + R"j("}],"oops")j";
  std::string msg = errorOf(big);
  EXPECT_LT(msg.size(), 800u);
  EXPECT_NE(msg.find("bytes in all"), std::string::npos) << msg;
}

TEST(Wal2JsonDecoder, PluginOptionsAskForVersion2WithXidsTimesAndLsns) {
  auto options = Wal2JsonDecoder::pluginOptions();
  auto has = [&](std::string_view name, std::string_view value) {
    for (const auto& [n, v] : options)
      if (n == name) return v == value;
    return false;
  };
  EXPECT_TRUE(has("format-version", "2"));
  EXPECT_TRUE(has("include-xids", "1"));
  EXPECT_TRUE(has("include-timestamp", "1"));
  EXPECT_TRUE(has("include-lsn", "1"));
  EXPECT_TRUE(has("include-types", "0"));  // read by nothing, costly on both ends
  for (const auto& [n, v] : options) EXPECT_NE(n, "numeric-data-types-as-string");  // 2.6 only
}

}  // namespace
}  // namespace pgmorph
