// IndexSuspender against a real PostgreSQL 15 target: the indexes, keys and foreign keys of the
// loaded tables (and the foreign keys of other tables onto them) are recorded and dropped,
// then put back with exactly their definitions; what cannot be re-created as it was (a
// commented index, a unique key that the policy does not vouch for, a foreign key it does not
// see covered, and the key that a kept foreign key needs) stays; a duplicate found at the
// rebuild names the table, the index and the key, and leaves the definition recorded.
#include "sink/IndexSuspender.h"

#include <gtest/gtest.h>

#include <map>

#include "cdc/pg/PgError.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

class IndexSuspenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("suspender");
    conn_ = std::make_unique<PgConnection>(test::sharedTarget().conninfo(db_), "target");
    conn_->exec(
        "CREATE TABLE users (id int PRIMARY KEY, email text, legacy_id int UNIQUE,"
        "  code text CONSTRAINT users_code_key UNIQUE DEFERRABLE INITIALLY DEFERRED);"
        "CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL;"
        "CREATE TABLE messages (id int CONSTRAINT messages_pk PRIMARY KEY WITH (fillfactor = 90),"
        "  user_id int REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,"
        "  body text, sent date);"
        "CREATE INDEX messages_sent_idx ON messages (sent DESC NULLS LAST) INCLUDE (body);"
        "CREATE INDEX messages_commented ON messages (body);"
        "COMMENT ON INDEX messages_commented IS 'kept';"
        // Not loaded, but its key onto users would block dropping users' primary key.
        "CREATE TABLE audits (id int PRIMARY KEY, user_id int REFERENCES users (id));");
    store_.ensureSchema(*conn_);
  }
  void TearDown() override {
    conn_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  std::map<std::string, std::string> definitions() {
    std::map<std::string, std::string> out;
    auto idx =
        conn_->exec("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'");
    for (int r = 0; r < idx.rows(); ++r)
      out["index " + std::string(idx.value(r, 0))] = std::string(idx.value(r, 1));
    auto con = conn_->exec(
        "SELECT conrelid::regclass::text || '.' || conname, contype::text || ' ' ||"
        " pg_get_constraintdef(oid) || ' ' || convalidated::text || condeferrable::text || "
        "condeferred::text"
        " FROM pg_constraint WHERE connamespace = 'public'::regnamespace");
    for (int r = 0; r < con.rows(); ++r)
      out["constraint " + std::string(con.value(r, 0))] = std::string(con.value(r, 1));
    return out;
  }

  // What the mapping would vouch for: ids and legacy keys (and here `code`) cannot collide,
  // messages.user_id is written from a ref onto users.id.
  static SuspendPolicy policy() {
    SuspendPolicy p;
    p.tables["public.users"].uniqueColumns = {"id", "legacy_id", "code"};
    p.tables["public.messages"].uniqueColumns = {"id"};
    p.tables["public.messages"].checkedRefs["user_id"] = {{"public.users", "id"}};
    return p;
  }

  std::size_t suspend(const SuspendPolicy& p = policy()) {
    conn_->exec("BEGIN");
    std::size_t n = IndexSuspender(store_).suspend(*conn_, {"public.users", "public.messages"}, p);
    conn_->exec("COMMIT");
    return n;
  }
  void restoreAll() {
    IndexSuspender s(store_);
    for (const auto& t : s.tablesToRebuild(*conn_)) s.restoreTable(*conn_, t);
    std::string info = test::sharedTarget().conninfo(db_);
    s.restoreForeignKeys(*conn_, 2, [&] { return PgConnection(info, "target"); });
  }

  std::string db_;
  std::unique_ptr<PgConnection> conn_;
  SuspendedDdlStore store_{"pgmorph", "p"};
};

TEST_F(IndexSuspenderTest, SuspendedDefinitionsComeBackExactlyAsTheyWere) {
  auto before = definitions();
  // 2 foreign keys, users: pkey, legacy_id and code keys; messages: pk, sent index. The
  // unique index on lower(email) (expression, predicate) can refuse a row: it stays.
  EXPECT_EQ(suspend(), 7u);
  auto during = definitions();
  EXPECT_EQ(during.count("index messages_commented"), 1u) << "a commented index was dropped";
  EXPECT_EQ(during.count("index users_email_key"), 1u) << "a unique on expressions was dropped";
  EXPECT_EQ(during.count("index audits_pkey"), 1u);
  EXPECT_EQ(during.count("index users_pkey"), 0u);
  EXPECT_EQ(during.count("constraint audits.audits_user_id_fkey"), 0u);
  EXPECT_TRUE(store_.anySuspended(*conn_));

  // Loaded meanwhile, without the keys.
  conn_->exec("INSERT INTO users VALUES (1, 'a@x', 11, 'c1'), (2, NULL, 12, NULL)");
  conn_->exec("INSERT INTO messages VALUES (1, 1, 'hi', '2020-01-01'), (2, 2, 'yo', NULL)");
  conn_->exec("INSERT INTO audits VALUES (1, 2)");

  // Suspending again (a snapshot that starts over) keeps the original definitions.
  EXPECT_EQ(suspend(), 0u);
  restoreAll();
  EXPECT_EQ(definitions(), before);
  EXPECT_FALSE(store_.anySuspended(*conn_));
  for (const auto& d : store_.load(*conn_)) EXPECT_TRUE(d.restored) << d.name;
}

TEST_F(IndexSuspenderTest, AKeptForeignKeyKeepsTheIndexItNeeds) {
  conn_->exec("COMMENT ON CONSTRAINT audits_user_id_fkey ON audits IS 'kept'");
  suspend();
  auto during = definitions();
  EXPECT_EQ(during.count("constraint audits.audits_user_id_fkey"), 1u);
  EXPECT_EQ(during.count("index users_pkey"), 1u);
  EXPECT_EQ(during.count("index users_legacy_id_key"), 0u);
}

TEST_F(IndexSuspenderTest, ADuplicateAtTheRebuildNamesTableIndexAndKeyAndStaysRecorded) {
  suspend();
  conn_->exec("INSERT INTO users VALUES (1, 'a@x', 11), (2, 'b@x', 11)");
  IndexSuspender s(store_);
  try {
    s.restoreTable(*conn_, "public.users");
    FAIL() << "a duplicate legacy_id was accepted";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(msg.find("users_legacy_id_key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("public.users"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Key (legacy_id)=(11) is duplicated"), std::string::npos) << msg;
  }
  // Nothing of the table's rebuild committed; every definition still recorded.
  int suspended = 0;
  for (const auto& d : store_.load(*conn_)) suspended += d.restored ? 0 : 1;
  EXPECT_EQ(suspended, 7);
  EXPECT_EQ(definitions().count("index users_pkey"), 0u);

  conn_->exec("UPDATE users SET legacy_id = 12 WHERE id = 2");
  restoreAll();
  EXPECT_FALSE(store_.anySuspended(*conn_));
}

TEST_F(IndexSuspenderTest, AnOrphanAtTheForeignKeyNamesItsKeyAndIsValidatedOnceFixed) {
  suspend();
  conn_->exec("INSERT INTO users VALUES (1, 'a@x', 11)");
  conn_->exec("INSERT INTO messages VALUES (1, 7, 'hi', NULL)");
  IndexSuspender s(store_);
  for (const auto& t : s.tablesToRebuild(*conn_)) s.restoreTable(*conn_, t);
  std::string info = test::sharedTarget().conninfo(db_);
  try {
    s.restoreForeignKeys(*conn_, 2, [&] { return PgConnection(info, "target"); });
    FAIL() << "an orphan passed";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("messages_user_id_fkey"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Key (user_id)=(7) is not present in table \"users\""), std::string::npos)
        << msg;
  }
  EXPECT_TRUE(store_.anySuspended(*conn_));
  conn_->exec("DELETE FROM messages WHERE user_id = 7");
  s.restoreForeignKeys(*conn_, 2, [&] { return PgConnection(info, "target"); });
  EXPECT_FALSE(store_.anySuspended(*conn_));
  auto v = conn_->exec(
      "SELECT bool_and(convalidated) FROM pg_constraint WHERE contype = 'f'"
      " AND connamespace = 'public'::regnamespace");
  EXPECT_EQ(v.value(0, 0), "t");
}

TEST_F(IndexSuspenderTest, KeysThePolicyDoesNotVouchForStayInPlaceAndRefuseRowsDuringTheLoad) {
  SuspendPolicy p = policy();
  p.tables["public.users"].uniqueColumns = {"id"};  // legacy_id and code may collide
  p.tables["public.messages"].checkedRefs.clear();  // user_id is not written from a ref
  auto before = definitions();
  // Dropped: messages_pk and the sent index. Kept: users' legacy_id, code and email keys,
  // messages' key onto users, users_pkey (which that key needs), and so audits' key onto it.
  conn_->exec("BEGIN");
  std::size_t n = IndexSuspender(store_).suspend(*conn_, {"public.users", "public.messages"}, p);
  conn_->exec("COMMIT");
  auto during = definitions();
  EXPECT_EQ(n, 2u);
  for (const char* k :
       {"index users_legacy_id_key", "index users_code_key", "index users_email_key",
        "constraint users.users_legacy_id_key", "constraint messages.messages_user_id_fkey",
        "index users_pkey", "constraint audits.audits_user_id_fkey"})
    EXPECT_EQ(during.count(k), 1u) << k << " was dropped";
  for (const char* k : {"index messages_pk", "index messages_sent_idx"})
    EXPECT_EQ(during.count(k), 0u) << k << " was kept";

  // What stays refuses during the load, row by row.
  conn_->exec("INSERT INTO users VALUES (1, 'a@x', 11)");
  try {
    conn_->exec("INSERT INTO users VALUES (2, 'b@x', 11)");
    FAIL() << "a duplicate legacy_id was accepted during the load";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "23505") << e.what();
  }
  try {
    conn_->exec("INSERT INTO messages VALUES (1, 7, 'hi', NULL)");
    FAIL() << "an orphan was accepted during the load";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "23503") << e.what();
  }
  restoreAll();
  EXPECT_EQ(definitions(), before);
  EXPECT_FALSE(store_.anySuspended(*conn_));
}

}  // namespace
}  // namespace pgmorph
