// Golden tests of Wal2JsonDecoder on messages captured from a real PostgreSQL 15 server
// with the installed wal2json (2.5): each scenario runs SQL in a fresh database with a
// wal2json slot, reads the slot through the SQL interface (the same plugin output as the
// streaming protocol), decodes every message, checks xid/LSN/commit time against what the
// server reports next to each message, and compares a stable rendering (no xid, LSN or
// time) with cdc/tests/golden/<scenario>.txt. PGMORPH_UPDATE_GOLDEN=1 rewrites the files.
//
// Where the real server differs from /work/shared/reference/wal2json-and-replication-protocol.md
// (checked here, the server is right):
//  - "timestamp" (the commit time) is on every message of a transaction, not only on B/C,
//    and row changes carry their own "lsn" as well.
//  - A non-transactional message (pg_logical_emit_message(false, ...)) arrives outside
//    any B/C pair with "xid":null and "timestamp":null.
//  - An UPDATE that changes the primary key also omits the unchanged TOASTed column from
//    "columns" (toast.txt), so "columns" may lack a value even when the key moved.
//  - With REPLICA IDENTITY FULL, "identity" of an UPDATE holds the old TOASTed value in
//    full while "columns" omits it (toast.txt).
//  - numeric 'NaN' and float 'Infinity'/'NaN' arrive as null, indistinguishable from SQL
//    NULL, as the page says for wal2json 2.5 (types_insert.txt): a known limit.
//  - A transaction that writes nothing decodable (it only took an xid, or only advanced
//    a sequence) produces no B/C pair at all (transactions.txt). (The page's "B/C pairs
//    are sent even when every change was filtered out" is about wal2json's own table
//    filters, which pgmorph does not use.)
//  - Decoding reads only flushed WAL: with synchronous_commit=off (as on the test
//    clusters) a commit, and a non-transactional message, is seen only after the WAL
//    writer flushes it (up to wal_writer_delay later).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "cdc/Wal2JsonDecoder.h"
#include "cdc/pg/PgConnection.h"
#include "cdc/tests/CdcTestSupport.h"
#include "cdc/tests/ChangeRenderer.h"

namespace pgmorph {
namespace {

struct Captured {
  Lsn rowLsn;            // the lsn column of pg_logical_slot_get_changes
  std::uint32_t rowXid;  // its xid column
  std::string data;      // one wal2json message
};

std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The golden file without its comment lines (the scenario's SQL).
std::string withoutComments(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("#", 0) != 0) out += line + "\n";
  return out;
}

class Wal2JsonGoldenTest : public test::SourceDatabaseTest {
 protected:
  // Runs `setup`, creates a wal2json slot, runs each statement of `scenario` in its own
  // transaction (a statement may be "BEGIN; ...; COMMIT"), then reads the slot.
  std::vector<Captured> capture(std::string_view setup, const std::vector<std::string>& scenario) {
    PgConnection conn(conninfo(), "source");
    // The test clusters run with synchronous_commit=off, and decoding only reads flushed
    // WAL: without this, commits would show up only after the WAL writer's next flush.
    conn.exec("SET synchronous_commit = on");
    conn.exec(setup);
    std::string slot = test::uniqueSlotName("golden");
    conn.execParams("SELECT pg_create_logical_replication_slot($1, 'wal2json')", {slot});
    before_ = nowMicros();
    for (const auto& sql : scenario) conn.exec(sql);
    after_ = nowMicros();
    auto res = conn.execParams(
        "SELECT lsn, xid, data FROM pg_logical_slot_get_changes($1, NULL, NULL,"
        " 'format-version', '2', 'include-xids', '1', 'include-timestamp', '1',"
        " 'include-lsn', '1')",
        {slot});
    std::vector<Captured> out;
    for (int i = 0; i < res.rows(); ++i)
      out.push_back(Captured{Lsn::parse(res.value(i, 0)),
                             static_cast<std::uint32_t>(std::stoul(std::string(res.value(i, 1)))),
                             std::string(res.value(i, 2))});
    conn.execParams("SELECT pg_drop_replication_slot($1)", {slot});
    scenario_ = scenario;
    return out;
  }

  // Decodes every message, checks what the golden file cannot (xid, LSNs, commit times)
  // against the server's own columns, and compares the rendering with the golden file.
  std::vector<Change> checkGolden(const std::string& name, const std::vector<Captured>& messages) {
    Wal2JsonDecoder decoder;
    std::vector<Change> changes;
    std::string rendered;
    std::optional<Change> begin;  // the open transaction's B
    for (const auto& m : messages) {
      Change c;
      decoder.decode(m.data, m.rowLsn, c);
      SCOPED_TRACE(m.data.substr(0, 300));
      EXPECT_EQ(c.xid, m.rowXid);
      switch (c.kind) {
        case ChangeKind::Begin:
          EXPECT_LT(c.lsn, c.nextLsn);
          EXPECT_GE(c.commitTimeMicros, before_ - 1'000'000);
          EXPECT_LE(c.commitTimeMicros, after_ + 1'000'000);
          break;
        case ChangeKind::Commit:
          // The commit row's lsn column is the commit's end: the position to confirm.
          EXPECT_EQ(c.nextLsn, m.rowLsn);
          EXPECT_LT(c.lsn, c.nextLsn);
          if (begin) {
            EXPECT_EQ(c.xid, begin->xid);
            EXPECT_EQ(c.lsn, begin->lsn);
            EXPECT_EQ(c.nextLsn, begin->nextLsn);
            EXPECT_EQ(c.commitTimeMicros, begin->commitTimeMicros);
          } else {
            ADD_FAILURE() << "commit without begin";
          }
          break;
        case ChangeKind::Message:
          EXPECT_EQ(c.lsn, m.rowLsn);
          if (!c.transactional) {
            EXPECT_EQ(c.xid, 0u);
            EXPECT_EQ(c.commitTimeMicros, 0);
          }
          break;
        default:
          EXPECT_EQ(c.lsn, m.rowLsn);
          if (!begin) {
            ADD_FAILURE() << "row change outside a transaction";
            break;
          }
          EXPECT_EQ(c.xid, begin->xid);
          EXPECT_EQ(c.commitTimeMicros, begin->commitTimeMicros);
          EXPECT_LT(c.lsn, begin->lsn);  // before its commit record
      }
      rendered += test::renderChange(c);
      if (c.kind == ChangeKind::Begin) begin = c;
      if (c.kind == ChangeKind::Commit) begin.reset();
      changes.push_back(std::move(c));
    }
    compareWithGolden(name, rendered);
    return changes;
  }

  void compareWithGolden(const std::string& name, const std::string& rendered) {
    std::string path = fmt::format("{}/cdc/tests/golden/{}.txt", test::sourceDir(), name);
    const char* update = std::getenv("PGMORPH_UPDATE_GOLDEN");
    if (update && std::string_view(update) == "1") {
      std::string header =
          "# Rendered by cdc/tests/Wal2JsonGoldenTest.cpp from this SQL (each line\n"
          "# one transaction); PGMORPH_UPDATE_GOLDEN=1 regenerates the file.\n";
      for (const auto& sql : scenario_) {
        std::string oneLine = sql;
        for (char& ch : oneLine)
          if (ch == '\n') ch = ' ';
        header += "# " + oneLine + "\n";
      }
      std::ofstream(path) << header << rendered;
      return;
    }
    std::string golden = readFile(path);
    ASSERT_FALSE(golden.empty()) << "missing golden file " << path
                                 << " (run with PGMORPH_UPDATE_GOLDEN=1 to create it)";
    EXPECT_EQ(withoutComments(golden), rendered)
        << "decoded output differs from " << path
        << " (if the change is intended, regenerate with PGMORPH_UPDATE_GOLDEN=1)";
  }

  static const ColumnSlices* column(const Change& c, std::string_view name) {
    return c.findColumn(name);
  }

  std::int64_t before_ = 0, after_ = 0;
  std::vector<std::string> scenario_;
};

std::vector<const Change*> ofKind(const std::vector<Change>& changes, ChangeKind kind) {
  std::vector<const Change*> out;
  for (const auto& c : changes)
    if (c.kind == kind) out.push_back(&c);
  return out;
}

TEST_F(Wal2JsonGoldenTest, InsertsOfEveryValueKind) {
  auto messages = capture(
      R"(CREATE TABLE kinds (
           id bigint PRIMARY KEY, small smallint, int4 integer, big bigint,
           price numeric(12,2), huge numeric, real4 real, dbl double precision,
           flag boolean, note text, code char(4), vc varchar(20),
           born date, at timestamp, atz timestamptz, t time,
           doc jsonb, js json, raw bytea, tags text[], nums integer[], u uuid, iv interval))",
      {
          R"(INSERT INTO kinds VALUES (14526741, 32767, -2147483648, 9223372036854775807,
               16040.59, 12345678901234567890.123456789, 1.5, 0.1,
               true, E'it''s "quoted" back\\slash\nsecond line\ttab é ☃ 𝄞 \x01', 'AB', 'v',
               '2024-02-29', '2024-03-01 12:34:56.789', '2024-03-01 12:00:00+02', '23:59:59.999999',
               '{"b": [1, 2.50, "x"], "a": null}', ' {"keep":  "spacing"} ', '\x00ff10',
               '{"a b","c\"d",NULL}', '{1,2,3}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
               '1 day 02:03:04'))",
          "INSERT INTO kinds (id) VALUES (2)",
          R"(INSERT INTO kinds (id, price, huge, real4, dbl, flag, note, at, raw, tags)
             VALUES (3, -0.01, 'NaN', 'NaN', '-Infinity', false, '', '-infinity', '', '{}'))",
      });
  auto changes = checkGolden("types_insert", messages);
  auto inserts = ofKind(changes, ChangeKind::Insert);
  ASSERT_EQ(inserts.size(), 3u);
  const Change& first = *inserts[0];
  // The digits that a double would lose, kept exactly.
  EXPECT_EQ(first.view(*first.findColumn("id")).value, "14526741");
  EXPECT_EQ(first.view(*first.findColumn("price")).value, "16040.59");
  EXPECT_EQ(first.view(*first.findColumn("huge")).value, "12345678901234567890.123456789");
  EXPECT_EQ(first.view(*first.findColumn("big")).value, "9223372036854775807");
  EXPECT_EQ(first.view(*first.findColumn("huge")).kind, ValueKind::Number);
  EXPECT_EQ(first.view(*first.findColumn("flag")).kind, ValueKind::Bool);
  EXPECT_EQ(first.view(*first.findColumn("flag")).value, "true");
  EXPECT_EQ(first.view(*first.findColumn("note")).value,
            "it's \"quoted\" back\\slash\nsecond line\ttab é ☃ 𝄞 \x01");
  EXPECT_EQ(first.view(*first.findColumn("raw")).value, "00ff10");
  EXPECT_EQ(first.view(*first.findColumn("code")).value, "AB  ");  // char(n) keeps its padding
  EXPECT_EQ(first.view(*first.findColumn("atz")).value, "2024-03-01 10:00:00+00");
  // Every column of a NULL-filled row is present, as Null.
  EXPECT_EQ(inserts[1]->columnCount(), 23u);
  EXPECT_TRUE(inserts[1]->view(*inserts[1]->findColumn("note")).isNull());
}

TEST_F(Wal2JsonGoldenTest, UpdatesAndDeletesCarryTheOldKey) {
  auto messages = capture(
      R"(CREATE TABLE orders (id integer PRIMARY KEY, status smallint NOT NULL, note text);
         CREATE TABLE pairs (a integer, b text, v integer, PRIMARY KEY (a, b));
         CREATE TABLE audit (id integer PRIMARY KEY, v text, n numeric(12,2));
         ALTER TABLE audit REPLICA IDENTITY FULL;
         INSERT INTO orders VALUES (1, 0, 'first'), (2, 0, NULL);
         INSERT INTO pairs VALUES (1, 'x', 10);
         INSERT INTO audit VALUES (1, 'a', 1.10))",
      {
          "UPDATE orders SET status = 1 WHERE id = 1",
          "UPDATE orders SET id = 10, note = 'moved' WHERE id = 1",
          "DELETE FROM orders WHERE id = 2",
          "UPDATE pairs SET b = 'y', v = 11 WHERE a = 1",
          "UPDATE audit SET v = 'b'",
          "UPDATE audit SET id = 5",
          "DELETE FROM audit",
      });
  auto changes = checkGolden("update_delete", messages);
  auto updates = ofKind(changes, ChangeKind::Update);
  ASSERT_EQ(updates.size(), 5u);
  // DEFAULT identity, key changed: identity holds the OLD key, columns the new row.
  const Change& moved = *updates[1];
  EXPECT_EQ(moved.view(*moved.findColumn("id")).value, "10");
  ASSERT_EQ(moved.identityCount(), 1u);
  EXPECT_EQ(moved.identity(0).name, "id");
  EXPECT_EQ(moved.identity(0).value, "1");
  // Composite key: both old parts.
  const Change& pair = *updates[2];
  ASSERT_EQ(pair.identityCount(), 2u);
  EXPECT_EQ(pair.view(*pair.findIdentity("b")).value, "x");
  EXPECT_EQ(pair.view(*pair.findColumn("b")).value, "y");
  // FULL identity: every old column, the old key included when it changes.
  const Change& fullMoved = *updates[4];
  ASSERT_EQ(fullMoved.identityCount(), 3u);
  EXPECT_EQ(fullMoved.view(*fullMoved.findIdentity("id")).value, "1");
  EXPECT_EQ(fullMoved.view(*fullMoved.findIdentity("v")).value, "b");
  EXPECT_EQ(fullMoved.view(*fullMoved.findColumn("id")).value, "5");
  auto deletes = ofKind(changes, ChangeKind::Delete);
  ASSERT_EQ(deletes.size(), 2u);
  EXPECT_EQ(deletes[0]->columnCount(), 0u);
  EXPECT_EQ(deletes[0]->identityCount(), 1u);
  EXPECT_EQ(deletes[1]->identityCount(), 3u);
}

TEST_F(Wal2JsonGoldenTest, UnchangedToastedValuesAreLeftOut) {
  // STORAGE EXTERNAL keeps the long value uncompressed and out of line, so it is TOASTed
  // for sure; the value is deterministic so the golden file's hash is stable.
  auto messages = capture(
      R"(CREATE TABLE docs (id integer PRIMARY KEY, title text, body text);
         ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
         CREATE TABLE docs_full (id integer PRIMARY KEY, title text, body text);
         ALTER TABLE docs_full ALTER COLUMN body SET STORAGE EXTERNAL;
         ALTER TABLE docs_full REPLICA IDENTITY FULL)",
      {
          "INSERT INTO docs SELECT 1, 'v1', string_agg(md5(i::text), '') FROM generate_series(1, "
          "100) i",
          "UPDATE docs SET title = 'v2' WHERE id = 1",
          "UPDATE docs SET id = 2 WHERE id = 1",
          "UPDATE docs SET body = 'short now' WHERE id = 2",
          "INSERT INTO docs_full SELECT 1, 'v1', string_agg(md5(i::text), '') FROM "
          "generate_series(1, 100) i",
          "UPDATE docs_full SET title = 'v2'",
      });
  auto changes = checkGolden("toast", messages);
  auto updates = ofKind(changes, ChangeKind::Update);
  ASSERT_EQ(updates.size(), 4u);
  EXPECT_EQ(updates[0]->findColumn("body"), nullptr) << "unchanged TOAST value must be absent";
  EXPECT_NE(updates[0]->findColumn("title"), nullptr);
  EXPECT_EQ(updates[1]->findColumn("body"), nullptr);
  ASSERT_NE(updates[2]->findColumn("body"), nullptr);
  EXPECT_EQ(updates[2]->view(*updates[2]->findColumn("body")).value, "short now");
  EXPECT_EQ(updates[3]->findColumn("body"), nullptr);
  ASSERT_NE(updates[3]->findIdentity("body"), nullptr);
  EXPECT_EQ(updates[3]->view(*updates[3]->findIdentity("body")).value.size(), 3200u);
}

TEST_F(Wal2JsonGoldenTest, TruncateIsOneMessagePerTable) {
  auto messages = capture(
      R"(CREATE TABLE a (id integer PRIMARY KEY);
         CREATE TABLE "Weird ""name""" (id integer PRIMARY KEY);
         INSERT INTO a VALUES (1))",
      {
          "TRUNCATE a",
          R"(TRUNCATE a, "Weird ""name""")",
      });
  auto changes = checkGolden("truncate", messages);
  auto truncates = ofKind(changes, ChangeKind::Truncate);
  ASSERT_EQ(truncates.size(), 3u);
  EXPECT_EQ(truncates[2]->table(), "Weird \"name\"");
  EXPECT_EQ(truncates[2]->schema(), "public");
}

TEST_F(Wal2JsonGoldenTest, LogicalMessages) {
  auto messages = capture("CREATE TABLE t (id integer PRIMARY KEY)",
                          {
                              "BEGIN; SELECT pg_logical_emit_message(true, 'pgmorph', "
                              "'{\"marker\": 1}'); INSERT INTO t VALUES (1); COMMIT",
                              "SELECT pg_logical_emit_message(false, 'pgmorph-\"x\"', "
                              "E'line1\\nline2 é')",
                              // A non-transactional message is not flushed by any commit of
                              // its own: this synchronous commit flushes it for the reader.
                              "INSERT INTO t VALUES (2)",
                          });
  auto changes = checkGolden("messages", messages);
  auto msgs = ofKind(changes, ChangeKind::Message);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_TRUE(msgs[0]->transactional);
  EXPECT_EQ(msgs[0]->prefix(), "pgmorph");
  EXPECT_EQ(msgs[0]->content(), "{\"marker\": 1}");
  EXPECT_FALSE(msgs[1]->transactional);
  EXPECT_EQ(msgs[1]->prefix(), "pgmorph-\"x\"");
  EXPECT_EQ(msgs[1]->content(), "line1\nline2 é");
}

TEST_F(Wal2JsonGoldenTest, TransactionBoundaries) {
  auto messages = capture(
      R"(CREATE TABLE t (id integer PRIMARY KEY, v text);
         CREATE SEQUENCE s)",
      {
          "BEGIN; INSERT INTO t VALUES (1, 'a'), (2, 'b'); UPDATE t SET v = 'c' WHERE id = 1;"
          " DELETE FROM t WHERE id = 2; COMMIT",
          "BEGIN; INSERT INTO t VALUES (3, 'rolled back'); ROLLBACK",
          "BEGIN; SELECT txid_current(); COMMIT",
          "SELECT nextval('s')",
          "INSERT INTO t VALUES (4, 'after')",
      });
  auto changes = checkGolden("transactions", messages);
  // The rolled-back insert never appears.
  for (const auto& c : changes) {
    if (c.kind == ChangeKind::Insert) {
      EXPECT_NE(c.view(*c.findColumn("id")).value, "3");
    }
  }
  EXPECT_EQ(ofKind(changes, ChangeKind::Begin).size(), ofKind(changes, ChangeKind::Commit).size());
}

}  // namespace
}  // namespace pgmorph
