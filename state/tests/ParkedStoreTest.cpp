// ParkedStore against a real target: every field survives the round trip (values byte for
// byte, through JSON), retries count, lookups find exactly what they are asked for, pipelines
// do not see each other's rows, and parking is transactional with the caller's writes.
#include "state/ParkedStore.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cdc/pg/PgError.h"
#include "state/ParkedValuesJson.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

const Uuid kUser50 = Uuid::parse("0b6d8a0e-8c47-5f0b-9d6c-111111111150");
const Uuid kUser7 = Uuid::parse("0b6d8a0e-8c47-5f0b-9d6c-111111111107");
const Uuid kMsg1 = Uuid::parse("2c1f0000-0000-5000-8000-000000000001");
const Uuid kMsg2 = Uuid::parse("2c1f0000-0000-5000-8000-000000000002");

ParkedRow waitingMessage(const Uuid& rowId, const Uuid& recipient) {
  ParkedRow r;
  r.kind = ParkKind::MissingParent;
  r.sourceTable = "dispatch_notification";
  r.legacyKey = "1300";
  r.targetTable = "public.system_messages";
  r.plan = "dispatch_notification>public.system_messages[upsert:id]";
  r.op = "upsert";
  r.rowId = rowId;
  r.values = {{"id", ParkedValue::State::Present, rowId.str()},
              {"recipient_id", ParkedValue::State::Present, recipient.str()},
              {"context", ParkedValue::State::Null, ""},
              {"notes", ParkedValue::State::Absent, ""}};
  r.reason =
      "system_messages.recipient_id names profiles " + recipient.str() + ", not on the target";
  r.missingTable = "public.profiles";
  r.missingId = recipient;
  r.missingColumn = "recipient_id";
  r.lsn = Lsn::parse("0/1A2B3C");
  return r;
}

class ParkedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("parked");
    conn_.emplace(test::sharedTarget().conninfo(db_), "target");
    store_.ensureSchema(*conn_);
  }
  void TearDown() override {
    conn_.reset();
    test::sharedTarget().dropDatabase(db_);
  }
  std::string db_;
  std::optional<PgConnection> conn_;
  ParkedStore store_{"pgmorph", "dispatch"};
};

TEST_F(ParkedStoreTest, EveryFieldSurvivesTheRoundTrip) {
  store_.ensureSchema(*conn_);  // idempotent
  ParkedRow in = waitingMessage(kMsg1, kUser50);
  // Text a naive encoding would break: quotes, backslashes, control characters, non-ASCII.
  in.values[1].column = "odd \"column\"";
  in.values.push_back(
      {"context", ParkedValue::State::Present, "{\"a\": \"b\\\\c\"}\n\ttab \x01 ctl — ünïcode"});
  std::int64_t id = store_.park(*conn_, in);
  ASSERT_GT(id, 0);

  auto rows = store_.byIds(*conn_, std::vector<std::int64_t>{id});
  ASSERT_EQ(rows.size(), 1u);
  const ParkedRow& out = rows[0];
  EXPECT_EQ(out.id, id);
  EXPECT_EQ(out.kind, ParkKind::MissingParent);
  EXPECT_EQ(out.sourceTable, in.sourceTable);
  EXPECT_EQ(out.legacyKey, "1300");
  EXPECT_EQ(out.targetTable, in.targetTable);
  EXPECT_EQ(out.plan, in.plan);
  EXPECT_EQ(out.op, "upsert");
  EXPECT_EQ(out.rowId, kMsg1);
  EXPECT_TRUE(out.hasRow);
  EXPECT_EQ(out.values, in.values);
  EXPECT_EQ(out.reason, in.reason);
  EXPECT_EQ(out.missingTable, "public.profiles");
  EXPECT_EQ(out.missingId, kUser50);
  EXPECT_EQ(out.missingColumn, "recipient_id");
  EXPECT_EQ(out.lsn, Lsn::parse("0/1A2B3C"));
  EXPECT_EQ(out.attempts, 1);
  EXPECT_FALSE(out.firstSeen.empty());
  EXPECT_EQ(out.firstSeen, out.lastTried);
}

TEST_F(ParkedStoreTest, AnUnconvertibleChangeKeepsItsSourceChangeAndIsFoundByItsSourceRow) {
  ParkedRow r;
  r.kind = ParkKind::Unconvertible;
  r.sourceTable = "dispatch_notification";
  r.legacyKey = "500";
  r.targetTable = "public.system_messages";
  r.op = "change";
  r.change =
      R"({"kind":"I","columns":[["template_context","text","s","{\"note\": \"unterminated"]]})";
  r.reason = "column template_context -> system_messages.context: not valid JSON";
  std::int64_t id = store_.park(*conn_, r);

  auto found = store_.unconvertible(*conn_, "dispatch_notification", "500");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, id);
  EXPECT_EQ(found->change, r.change);
  EXPECT_FALSE(found->rowId);
  EXPECT_TRUE(found->values.empty());
  EXPECT_FALSE(store_.unconvertible(*conn_, "dispatch_notification", "501"));
  EXPECT_FALSE(store_.unconvertible(*conn_, "dispatch_user", "500"));
  auto keys = store_.unconvertibleKeys(*conn_);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], std::make_pair(std::string("dispatch_notification"), std::string("500")));
  EXPECT_EQ(store_.unconvertibleOf(*conn_, "dispatch_notification").size(), 1u);
}

TEST_F(ParkedStoreTest, ReparkCountsTheAttemptAndKeepsFirstSeen) {
  std::int64_t id = store_.park(*conn_, waitingMessage(kMsg1, kUser50));
  auto before = store_.byIds(*conn_, std::vector<std::int64_t>{id}).at(0);
  conn_->exec("SELECT pg_sleep(0.01)");  // now() must move for last_tried to differ

  ParkedRow again = waitingMessage(kMsg1, kUser7);
  again.reason = "still missing";
  store_.repark(*conn_, id, again);
  auto after = store_.byIds(*conn_, std::vector<std::int64_t>{id}).at(0);
  EXPECT_EQ(after.attempts, 2);
  EXPECT_EQ(after.firstSeen, before.firstSeen);
  EXPECT_GT(after.lastTried, before.lastTried);
  EXPECT_EQ(after.reason, "still missing");
  EXPECT_EQ(after.missingId, kUser7);
  EXPECT_EQ(after.values[1].text, kUser7.str());
}

TEST_F(ParkedStoreTest, ReparkingAnEntryRemovedMeanwhileParksItAnew) {
  std::int64_t id = store_.park(*conn_, waitingMessage(kMsg1, kUser50));
  store_.remove(*conn_, std::vector<std::int64_t>{id});  // e.g. `pgmorph parked discard`
  std::int64_t again = store_.repark(*conn_, id, waitingMessage(kMsg1, kUser7));
  EXPECT_NE(again, id);
  auto rows = store_.byIds(*conn_, std::vector<std::int64_t>{again});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].missingId, kUser7);
  EXPECT_EQ(store_.repark(*conn_, again, waitingMessage(kMsg1, kUser50)), again);
}

TEST_F(ParkedStoreTest, LookupsFindExactlyTheRowsAsked) {
  std::int64_t a = store_.park(*conn_, waitingMessage(kMsg1, kUser50));
  std::int64_t b = store_.park(*conn_, waitingMessage(kMsg2, kUser7));

  auto on = store_.onRows(*conn_, std::vector<Uuid>{kMsg2, kUser50});
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0].id, b);

  auto waiting = store_.waitingFor(*conn_, "public.profiles", std::vector<Uuid>{kUser50});
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].id, a);
  EXPECT_TRUE(store_.waitingFor(*conn_, "public.offices", std::vector<Uuid>{kUser50}).empty());

  EXPECT_EQ(store_.ofPlan(*conn_, "dispatch_notification>public.system_messages[upsert:id]").size(),
            2u);
  EXPECT_TRUE(
      store_
          .ofPlan(*conn_, "dispatch_notification>public.system_messages[upsert:id]", "set_columns")
          .empty());

  EXPECT_EQ(store_.list(*conn_, {"system_messages", "", {}}).size(), 2u);
  EXPECT_EQ(store_.list(*conn_, {"public.system_messages", "", {}}).size(), 2u);
  EXPECT_EQ(store_.list(*conn_, {"dispatch_notification", "", {}}).size(), 2u);
  EXPECT_TRUE(store_.list(*conn_, {"profiles", "", {}}).empty());
  auto byReason = store_.list(*conn_, {"", kUser7.str().substr(24), {}});
  ASSERT_EQ(byReason.size(), 1u);
  EXPECT_EQ(byReason[0].id, b);
  EXPECT_EQ(store_.list(*conn_, {"", "", ParkKind::Refused}).size(), 0u);
  EXPECT_EQ(store_.list(*conn_, {}, 1).size(), 1u);
  EXPECT_EQ(store_.list(*conn_, {}, 1)[0].id, a) << "oldest first";

  EXPECT_EQ(store_.waitedTables(*conn_), std::vector<std::string>{"public.profiles"});
  ParkedRow fill = waitingMessage(kMsg1, kUser7);
  fill.missingTable = "public.doctors";
  store_.park(*conn_, fill);
  EXPECT_EQ(store_.waitedTables(*conn_),
            (std::vector<std::string>{"public.doctors", "public.profiles"}));

  EXPECT_EQ(store_.remove(*conn_, std::vector<std::int64_t>{a, 999999}), 1u);
  EXPECT_EQ(store_.count(*conn_), 2);
  EXPECT_TRUE(store_.any(*conn_));
  EXPECT_FALSE(ParkedStore("pgmorph", "other").any(*conn_));
}

TEST_F(ParkedStoreTest, PipelinesDoNotSeeEachOther) {
  ParkedStore other("pgmorph", "other");
  other.ensureSchema(*conn_);
  std::int64_t mine = store_.park(*conn_, waitingMessage(kMsg1, kUser50));
  other.park(*conn_, waitingMessage(kMsg1, kUser50));
  EXPECT_EQ(store_.count(*conn_), 1);
  EXPECT_EQ(other.count(*conn_), 1);
  EXPECT_EQ(other.remove(*conn_, std::vector<std::int64_t>{mine}), 0u);
  EXPECT_TRUE(other.byIds(*conn_, std::vector<std::int64_t>{mine}).empty());
  EXPECT_EQ(store_.onRows(*conn_, std::vector<Uuid>{kMsg1}).size(), 1u);
}

TEST_F(ParkedStoreTest, ParkingCommitsOrVanishesWithTheCallersTransaction) {
  conn_->exec("BEGIN");
  store_.park(*conn_, waitingMessage(kMsg1, kUser50));
  EXPECT_EQ(store_.count(*conn_), 1) << "the transaction sees its own parked row";
  conn_->exec("ROLLBACK");
  EXPECT_EQ(store_.count(*conn_), 0);
  conn_->exec("BEGIN");
  store_.park(*conn_, waitingMessage(kMsg1, kUser50));
  conn_->exec("COMMIT");
  EXPECT_EQ(store_.count(*conn_), 1);
}

TEST_F(ParkedStoreTest, TheLockSerializesSessionsOfOnePipelineUntilTheirTransactionEnds) {
  PgConnection other(test::sharedTarget().conninfo(db_), "other");
  other.exec("SET lock_timeout = '200ms'");
  conn_->exec("BEGIN");
  store_.lock(*conn_);
  store_.lock(*conn_);  // re-entrant
  other.exec("BEGIN");
  try {
    store_.lock(other);
    ADD_FAILURE() << "a second session took the lock while the first held it";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "55P03") << e.what();
  }
  other.exec("ROLLBACK");
  // Another pipeline's lock is another lock.
  other.exec("BEGIN");
  ParkedStore("pgmorph", "other").lock(other);
  other.exec("ROLLBACK");
  conn_->exec("COMMIT");
  other.exec("BEGIN");
  store_.lock(other);  // free again once the holder's transaction ended
  other.exec("COMMIT");
}

TEST_F(ParkedStoreTest, ExistsOnlyOnceCreated) {
  ParkedStore elsewhere("not_created_yet", "dispatch");
  EXPECT_FALSE(elsewhere.exists(*conn_));
  EXPECT_TRUE(store_.exists(*conn_));
}

TEST(ParkedValuesJson, RejectsWhatPgmorphDoesNotWrite) {
  EXPECT_THROW(decodeParkedValues("{}"), std::invalid_argument);
  EXPECT_THROW(decodeParkedValues("[[\"c\",\"X\"]]"), std::invalid_argument);
  EXPECT_THROW(decodeParkedValues("[[\"c\",\"P\"]]"), std::invalid_argument);
  EXPECT_TRUE(decodeParkedValues("[]").empty());
  EXPECT_THROW(parseParkKind("lost"), std::invalid_argument);
  EXPECT_EQ(parseParkKind("null_reference"), ParkKind::NullReference);
}

// The parked table survives upgrades: what earlier versions stored must read back, and what
// this version stores must be that same text.
TEST(ParkedValuesJson, KeepsTheStoredFormat) {
  using namespace std::string_literals;
  const std::vector<ParkedValue> values = {
      {"na\"me\x01", ParkedValue::State::Present, "a\\b\0\xc3\xa9"s},
      {"gone", ParkedValue::State::Null, ""},
      {"kept", ParkedValue::State::Absent, ""}};
  // Non-ASCII characters as \u escapes (a target in any encoding stores them); earlier versions
  // wrote the UTF-8 bytes as they are, which still reads back.
  const std::string stored =
      R"([["na\"me\u0001","P","a\\b\u0000\u00E9"],["gone","N"],["kept","A"]])";
  const std::string storedBefore =
      R"([["na\"me\u0001","P","a\\b\u0000)"s + "\xc3\xa9" + R"("],["gone","N"],["kept","A"]])";
  EXPECT_EQ(encodeParkedValues(values), stored);
  EXPECT_EQ(decodeParkedValues(stored), values);
  EXPECT_EQ(decodeParkedValues(storedBefore), values);
  EXPECT_EQ(encodeParkedValues({}), "[]");
}

TEST(ParkedValuesJson, EscapesWhatJsonNeedsAndWritesEveryOtherCharacterInAscii) {
  using namespace std::string_literals;
  const std::vector<ParkedValue> awkward = {
      {"c", ParkedValue::State::Present, "a\"b\\c\n\t\x01\0\xc3\xa9 \xf0\x9f\x98\x80"s}};
  EXPECT_EQ(encodeParkedValues(awkward),
            "[[\"c\",\"P\",\"a\\\"b\\\\c\\n\\t\\u0001\\u0000\\u00E9 \\uD83D\\uDE00\"]]"s);
  EXPECT_EQ(decodeParkedValues(encodeParkedValues(awkward)), awkward);
  // Bytes that are not UTF-8 (a SQL_ASCII source) are written as they are, as before.
  const std::vector<ParkedValue> latin1 = {{"c", ParkedValue::State::Present, "Z\xfcrich"}};
  EXPECT_EQ(encodeParkedValues(latin1), "[[\"c\",\"P\",\"Z\xfcrich\"]]");
  // And what is written comes back as it was, NUL and all.
  std::string odd = "line\r\nwith \"quotes\", a \\ and a \0 byte \xe2\x82\xac"s;
  ParkedValue v;
  v.column = "note";
  v.text = odd;
  std::vector<ParkedValue> values = {v};
  auto back = decodeParkedValues(encodeParkedValues(values));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], v);
}

}  // namespace
}  // namespace pgmorph
