// The decoder's fast path against RapidJSON: on wal2json-shaped messages, JSON corner cases
// and thousands of mutations of them, whatever the fast path accepts RapidJSON's reader must
// accept too, with the very same Change (every field, every byte of every value). And the
// fast path must take the ordinary messages, or it would only be a slower decoder.
#include "cdc/Wal2JsonFastScanner.h"

#include "cdc/RapidJsonSetup.h"  // before any other RapidJSON header

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/Wal2JsonHandler.h"
#include "cdc/model/Change.h"

namespace pgmorph {
namespace {

// Everything a Change holds, values in full.
std::string dump(const Change& c) {
  std::string out =
      fmt::format("{} xid={} lsn={} next={} t={} tx={} {}.{} prefix={} content={}\n",
                  toString(c.kind), c.xid, c.lsn.str(), c.nextLsn.str(), c.commitTimeMicros,
                  c.transactional, c.schema(), c.table(), c.prefix(), c.content());
  auto column = [&](const ColumnView& v) {
    out += fmt::format("  [{}] [{}] {} [{}]\n", v.name, v.type, static_cast<int>(v.kind), v.value);
  };
  for (std::size_t i = 0; i < c.columnCount(); ++i) column(c.column(i));
  out += " identity\n";
  for (std::size_t i = 0; i < c.identityCount(); ++i) column(c.identity(i));
  return out;
}

struct Outcome {
  bool ok = false;
  std::string change;  // dump() when ok
};

Outcome fast(std::string_view message) {
  Change c;
  Wal2JsonHandler handler;
  char* text = c.adoptMessage(message);
  handler.reset(c);
  if (!scanWal2JsonFast(text, message.size(), handler) || !handler.finish()) return {};
  return {true, dump(c)};
}

Outcome reference(std::string_view message) {
  Change c;
  Wal2JsonHandler handler;
  char* text = c.adoptMessage(message);
  handler.reset(c);
  rapidjson::Reader reader;
  rapidjson::InsituStringStream stream(text);
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseInsituFlag;
  if (reader.Parse<kFlags>(stream, handler).IsError() || !handler.finish()) return {};
  return {true, dump(c)};
}

// What a wal2json 2.5 server sends with pgmorph's plugin options, plus values that exercise
// every escape wal2json writes.
const std::vector<std::string> kOrdinary = {
    R"({"action":"B","xid":1234,"timestamp":"2026-11-21 18:23:57.087448+00","lsn":"0/1A2B3C","nextlsn":"0/1A2B70"})",
    R"({"action":"C","xid":1234,"timestamp":"2026-11-21 18:23:57.087448+00","lsn":"0/1A2B3C","nextlsn":"0/1A2B70"})",
    R"({"action":"I","xid":1234,"timestamp":"2026-11-21 18:23:57.087448+00","lsn":"0/1A2B3C","schema":"public","table":"dispatch_notification","columns":[{"name":"id","type":"bigint","value":15000},{"name":"recipient_id","type":"integer","value":1},{"name":"template","type":"text","value":"order_shipped"},{"name":"template_context","type":"text","value":"{\"order\": 1, \"by\": \"user1\", \"tags\": [\"a\", \"b\"]}"},{"name":"is_read","type":"smallint","value":0},{"name":"created_at","type":"timestamp without time zone","value":"2020-02-02 01:01:00"}]})",
    R"j({"action":"U","xid":7,"timestamp":"2026-11-21 18:23:57+00","lsn":"16/B374D848","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":-42},{"name":"price","type":"numeric(12,2)","value":12345678901234567890.123456789},{"name":"flag","type":"boolean","value":true},{"name":"off","type":"boolean","value":false},{"name":"gone","type":"text","value":null},{"name":"zero","type":"numeric","value":0},{"name":"small","type":"numeric","value":-0.01}],"identity":[{"name":"id","type":"integer","value":-41}]})j",
    R"({"action":"D","xid":8,"timestamp":"2026-11-21 18:23:57.1+00","lsn":"0/5","schema":"public","table":"t","identity":[{"name":"id","type":"integer","value":3}]})",
    R"({"action":"T","xid":9,"timestamp":"2026-11-21 18:23:57.1+00","lsn":"0/6","schema":"public","table":"t"})",
    R"({"action":"M","xid":null,"timestamp":null,"lsn":"0/7","transactional":false,"prefix":"p","content":"hello \"there\""})",
    R"({"action":"I","xid":1,"timestamp":"2026-11-21 18:23:57+00","lsn":"0/8","schema":"s\"q","table":"t\\u","columns":[{"name":"note","type":"text","value":"it's \"quoted\" back\\slash\nsecond line\ttab\r\b\f\/ é ☃ 𝄞"},{"name":"empty","type":"text","value":""},{"name":"raw","type":"bytea","value":"00ff10"},{"name":"tags","type":"text[]","value":"{\"a b\",\"c\\\"d\",NULL}"}]})",
    R"({"action":"I","xid":1,"timestamp":"2026-11-21 18:23:57+00","lsn":"0/8","schema":"public","table":"t","columns":[]})",
};

// JSON corner cases: some are for the fast path, most are RapidJSON's to accept or refuse.
const std::vector<std::string> kCorners = {
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"text","value":"\u00e9\u0001\ud834\udd1e"}]})",
    R"({ "action" : "I", "schema":"s","table":"t"})",
    "{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\"}\n",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"float8","value":1e5}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"float8","value":1.5E-7}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":01}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":-}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":1.}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":.5}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":+5}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":-0}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"numeric","value":)" +
        std::string(400, '7') + "}]}",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"numeric","value":)" +
        std::string(300, '7') + "}]}",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"numeric","value":0.)" +
        std::string(2000, '3') + "}]}",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"text","value":"x\qy"}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"text","value":"x\"}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"bool","value":tru}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"bool","value":nul}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"bool","value":truex}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":1,}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":1},]})",
    R"({"action":"I","schema":"s","table":"t",})",
    R"({"action":"I","schema":"s","table":"t"}{})",
    R"({"action":"I","schema":"s","table":"t"})" + std::string(1, '\0') + "garbage",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"text","value":"a)" +
        std::string(1, '\0') + R"(b"}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"text","value":"a)" +
        std::string(1, '\x01') + R"(b"}]})",
    R"({"action":"I","schema":"s","table":"t","pk":[{"name":"id","type":"integer"}],"origin":{"a":[[[[[[[[[[1]]]]]]]]]]}})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int","value":[1,{"x":2}]}]})",
    R"({"action":"I","schema":"s","table":"t","columns":[{"name":"c","type":"int"}]})",
    R"({"action":"I","schema":"s"})",
    R"({"action":"X"})",
    R"([{"action":"B"}])",
    R"("just a string")",
    R"({"action":"I","schema":"s","table":"t","columns":[1]})",
    R"({"action":"I","xid":"1","schema":"s","table":"t"})",
    R"({"action":"B","xid":1,"timestamp":"not a time","lsn":"0/1","nextlsn":"0/2"})",
    R"({"action":"B","xid":1,"lsn":"nope"})",
    "",
    "{",
    "{}",
    R"({"":1,"action":"B"})",
};

TEST(Wal2JsonFastScanner, TakesWhatWal2JsonSendsAndDecodesItAsRapidJsonDoes) {
  for (const auto& m : kOrdinary) {
    Outcome f = fast(m), r = reference(m);
    ASSERT_TRUE(r.ok) << m;
    ASSERT_TRUE(f.ok) << "the fast path refused an ordinary message: " << m;
    EXPECT_EQ(f.change, r.change) << m;
  }
}

TEST(Wal2JsonFastScanner, AcceptsOnlyWhatRapidJsonAcceptsWithTheSameChange) {
  int taken = 0;
  for (const auto& m : kCorners) {
    Outcome f = fast(m), r = reference(m);
    if (!f.ok) continue;
    ++taken;
    EXPECT_TRUE(r.ok) << "fast path accepted what RapidJSON refuses: " << m;
    EXPECT_EQ(f.change, r.change) << m;
  }
  // The plain ones among them (a 300-digit integer, a long fraction, -0, {} fields).
  EXPECT_GE(taken, 4);
}

TEST(Wal2JsonFastScanner, MutatedMessagesNeverDecodeDifferently) {
  // Deterministic mutations: bytes deleted, replaced or inserted (structural characters,
  // escapes, digits, whitespace, NUL and control bytes), ranges duplicated, cuts.
  std::mt19937 rng(20261121);
  const std::string alphabet = std::string("\"\\{}[],:0123456789-.eE+tfnlu /bfnrt ") + '\0' +
                               '\x01' + '\x1f' + '\x7f' + "\xc3\xa9";
  std::vector<std::string> seeds = kOrdinary;
  seeds.insert(seeds.end(), kCorners.begin(), kCorners.end());
  int accepted = 0, compared = 0;
  for (int round = 0; round < 40000; ++round) {
    std::string m = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      const std::size_t at = rng() % m.size();
      switch (rng() % 5) {
        case 0:
          m.erase(at, 1);
          break;
        case 1:
          m[at] = alphabet[rng() % alphabet.size()];
          break;
        case 2:
          m.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 3: {
          const std::size_t n = 1 + rng() % 12;
          m.insert(at, m.substr(at, n));
          break;
        }
        default:
          m.resize(at);
      }
    }
    Outcome f = fast(m);
    if (!f.ok) continue;
    ++accepted;
    Outcome r = reference(m);
    ++compared;
    ASSERT_TRUE(r.ok) << "fast path accepted what RapidJSON refuses: " << m;
    ASSERT_EQ(f.change, r.change) << m;
  }
  // Enough of the mutations stay valid for the comparison to mean something.
  EXPECT_GT(accepted, 1000);
  EXPECT_EQ(accepted, compared);
}

}  // namespace
}  // namespace pgmorph
