// ExportedSnapshotSlot and SnapshotReader against a real PostgreSQL 15 source with wal2json:
// the exported snapshot and the stream meet exactly at the consistent point, the snapshot
// dies with its exporting connection, and a row read by the snapshot is the very same
// Change (names, kinds, values, and no type names) that the wal2json decoder makes of its
// INSERT with pgmorph's plugin options — so one Transformer serves both.
#include "cdc/SnapshotReader.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <fmt/format.h>

#include <functional>
#include <set>

#include "cdc/ExportedSnapshotSlot.h"
#include "cdc/ReplicationStream.h"
#include "cdc/Wal2JsonDecoder.h"
#include "cdc/model/Errors.h"
#include "cdc/tests/CdcTestSupport.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;

class SnapshotReaderTest : public test::SourceDatabaseTest {
 protected:
  void SetUp() override {
    test::SourceDatabaseTest::SetUp();
    writer_ = std::make_unique<PgConnection>(conninfo(), "source");
    // The walsender only sends flushed WAL: flush each commit at once.
    writer_->exec("SET synchronous_commit = on");
  }
  void TearDown() override {
    writer_.reset();
    test::SourceDatabaseTest::TearDown();
  }

  // Inserts of `table` streamed from `slot` (from `start`) until `count` of them arrived.
  std::vector<Change> streamInserts(const std::string& slot, Lsn start, const std::string& table,
                                    std::size_t count) {
    ReplicationStream stream(conninfo(), slot);
    stream.start(start, Wal2JsonDecoder::pluginOptions());
    Wal2JsonDecoder decoder;
    std::vector<Change> out;
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      while (auto m = stream.poll()) {
        Change c;
        decoder.decode(m->payload, m->dataStart, c);
        if (c.kind == ChangeKind::Insert && c.table() == table) out.push_back(std::move(c));
      }
      pollfd fd{stream.socket(), POLLIN, 0};
      ::poll(&fd, 1, 50);
    }
    stream.stop();
    return out;
  }

  std::vector<Change> readAll(SnapshotReader& reader, const SnapshotRead& read) {
    std::vector<Change> out;
    reader.start(read);
    Change c;
    while (reader.next(c)) out.push_back(c);
    return out;
  }

  static std::string describeChange(const Change& c) {
    std::string out = fmt::format("{} {}.{}:", toString(c.kind), c.schema(), c.table());
    for (std::size_t i = 0; i < c.columnCount(); ++i) {
      auto v = c.column(i);
      out += fmt::format(" {}({})={}{}", v.name, v.type,
                         v.kind == ValueKind::Null     ? "null"
                         : v.kind == ValueKind::Number ? "num:"
                         : v.kind == ValueKind::Bool   ? "bool:"
                                                       : "str:",
                         v.value);
    }
    return out;
  }

  std::unique_ptr<PgConnection> writer_;
};

TEST_F(SnapshotReaderTest, SnapshotAndStreamMeetExactlyAtTheConsistentPoint) {
  writer_->exec("CREATE TABLE t (id int PRIMARY KEY, note text)");
  writer_->exec("INSERT INTO t SELECT g, 'before ' || g FROM generate_series(1, 3) g");
  std::string slot = test::uniqueSlotName("export");
  auto exported = ExportedSnapshotSlot::create(conninfo(), slot);
  EXPECT_EQ(exported.slot(), slot);
  EXPECT_FALSE(exported.snapshotName().empty());
  EXPECT_FALSE(exported.consistentPoint().isZero());
  ASSERT_TRUE(exported.holding());
  writer_->exec("INSERT INTO t VALUES (4, 'after 4'), (5, 'after 5')");
  writer_->exec("UPDATE t SET note = 'changed' WHERE id = 1");

  // Two readers import the same snapshot: both see exactly the rows committed before it.
  SnapshotReader a(conninfo(), exported.snapshotName());
  SnapshotReader b(conninfo(), exported.snapshotName());
  auto cols = SnapshotReader::describe(a.connection(), "public", "t");
  SnapshotRead read{"public", "t", cols, {}, {}, {}};
  for (SnapshotReader* r : {&a, &b}) {
    auto rows = readAll(*r, read);
    ASSERT_EQ(rows.size(), 3u);
    std::set<std::string> ids, notes;
    for (const auto& c : rows) {
      ids.insert(std::string(c.view(*c.findColumn("id")).value));
      notes.insert(std::string(c.view(*c.findColumn("note")).value));
    }
    EXPECT_EQ(ids, (std::set<std::string>{"1", "2", "3"}));
    EXPECT_EQ(notes, (std::set<std::string>{"before 1", "before 2", "before 3"}));
  }
  // The stream from the consistent point carries exactly the rest.
  auto streamed = streamInserts(slot, exported.consistentPoint(), "t", 2);
  ASSERT_EQ(streamed.size(), 2u);
  EXPECT_EQ(streamed[0].view(*streamed[0].findColumn("id")).value, "4");
  EXPECT_EQ(streamed[1].view(*streamed[1].findColumn("id")).value, "5");

  // Key ranges split a table without losing or repeating a row.
  SnapshotRead low = read, high = read;
  low.rangeColumn = high.rangeColumn = "id";
  low.to = 2;
  high.from = 2;
  EXPECT_EQ(readAll(a, low).size(), 1u);
  EXPECT_EQ(readAll(a, high).size(), 2u);

  // Once the exporting connection is gone, the snapshot cannot be imported any more.
  exported.release();
  EXPECT_FALSE(exported.holding());
  // The server ends the exporting walsender after the connection is closed, not with it:
  // an import in between would still succeed. Wait until no walsender of this database is
  // left (the stream above has stopped too).
  ASSERT_TRUE(test::waitFor([&] {
    return writer_
               ->exec(
                   "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'"
                   " AND datname = current_database()")
               .value(0, 0) == "0";
  })) << "the exporting walsender did not end";
  EXPECT_THROW(SnapshotReader(conninfo(), exported.snapshotName()), SnapshotGoneError);
  // A reader that imported it earlier still reads under it.
  EXPECT_EQ(readAll(b, read).size(), 3u);
}

TEST_F(SnapshotReaderTest, AnExistingSlotIsRefusedWithTheWayOut) {
  std::string slot = test::uniqueSlotName("exists");
  auto first = ExportedSnapshotSlot::create(conninfo(), slot);
  try {
    ExportedSnapshotSlot::create(conninfo(), slot);
    FAIL() << "a second slot of the same name was created";
  } catch (const PgmorphError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(std::string(e.what()).find(slot), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--recreate-slot"), std::string::npos) << e.what();
  }
}

TEST_F(SnapshotReaderTest, ARowOfEveryTypeIsTheSameChangeAsWal2JsonMakesOfItsInsert) {
  writer_->exec("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
  writer_->exec("CREATE DOMAIN posint AS integer CHECK (VALUE > 0)");
  writer_->exec(
      "CREATE TABLE every ("
      " id bigint PRIMARY KEY, s smallint, i integer, o oid, r real, d double precision,"
      " n numeric(12,2), big numeric, nan numeric, inf double precision, ninf real,"
      " yes boolean, no boolean, b bytea, empty_b bytea, t text, vc varchar(10), c char(4),"
      " day date, ts timestamp, tstz timestamptz, tm time, iv interval, js json, jb jsonb,"
      " u uuid, ia integer[], ta text[], m mood, p posint, ip inet, mo money,"
      " nul text, twice bigint GENERATED ALWAYS AS (id * 2) STORED)");
  std::string slot = test::uniqueSlotName("types");
  auto before = ExportedSnapshotSlot::create(conninfo(), slot);
  writer_->exec(
      "INSERT INTO every (id, s, i, o, r, d, n, big, nan, inf, ninf, yes, no, b, empty_b, t, vc,"
      " c, day, ts, tstz, tm, iv, js, jb, u, ia, ta, m, p, ip, mo, nul) VALUES ("
      " 9007199254740993, -32768, 2147483647, 4294967295, 3.14159, 0.1, 16040.59,"
      " 12345678901234567890.123456789, 'NaN', 'Infinity', '-Infinity', true, false,"
      " '\\x00ff10'::bytea, ''::bytea,"
      " E'tab\\there, newline\\nhere, back\\\\slash, \"quotes\", ünïcödé 😀', 'short', 'ab',"
      " '2024-02-29', '2024-03-01 12:34:56.789', '2024-03-01 12:00:00+02', '23:59:59',"
      " '1 day 02:03:04', '{\"a\": [1, 2]}', '{\"b\": {\"c\": null}}',"
      " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,3}', ARRAY['x y', 'q\"z', NULL],"
      " 'happy', 42, '192.168.0.1/24', 12.34, NULL)");
  // A second exported snapshot, taken after the insert, sees the row.
  auto after = ExportedSnapshotSlot::create(conninfo(), test::uniqueSlotName("types2"));
  SnapshotReader reader(conninfo(), after.snapshotName());
  SnapshotRead read{
      "public", "every", SnapshotReader::describe(reader.connection(), "public", "every"),
      {},       {},      {}};
  auto snapshotRows = readAll(reader, read);
  ASSERT_EQ(snapshotRows.size(), 1u);
  auto streamed = streamInserts(slot, before.consistentPoint(), "every", 1);
  ASSERT_EQ(streamed.size(), 1u);
  const Change& fromSnapshot = snapshotRows[0];
  const Change& fromStream = streamed[0];

  EXPECT_EQ(describeChange(fromSnapshot), describeChange(fromStream));
  EXPECT_EQ(fromSnapshot.kind, ChangeKind::Insert);
  EXPECT_EQ(fromSnapshot.schema(), fromStream.schema());
  EXPECT_EQ(fromSnapshot.table(), fromStream.table());
  ASSERT_EQ(fromSnapshot.columnCount(), fromStream.columnCount());
  for (std::size_t i = 0; i < fromStream.columnCount(); ++i) {
    auto s = fromSnapshot.column(i), w = fromStream.column(i);
    SCOPED_TRACE(std::string(w.name));
    EXPECT_EQ(s.name, w.name);
    EXPECT_EQ(s.type, "");
    EXPECT_EQ(w.type, "");  // the server honoured include-types=0
    EXPECT_EQ(s.kind, w.kind);
    EXPECT_EQ(s.value, w.value);
  }
  // A few values spelled out, so that both paths agreeing on something wrong shows too.
  auto value = [&](const char* name) { return fromSnapshot.view(*fromSnapshot.findColumn(name)); };
  EXPECT_EQ(value("id").value, "9007199254740993");
  EXPECT_EQ(value("id").kind, ValueKind::Number);
  EXPECT_EQ(value("big").value, "12345678901234567890.123456789");
  EXPECT_EQ(value("nan").kind, ValueKind::Null);
  EXPECT_EQ(value("inf").kind, ValueKind::Null);
  EXPECT_EQ(value("yes").value, "true");
  EXPECT_EQ(value("no").kind, ValueKind::Bool);
  EXPECT_EQ(value("b").value, "00ff10");
  EXPECT_EQ(value("c").value, "ab  ");
  EXPECT_EQ(value("p").kind, ValueKind::String);  // a domain is not a number type to wal2json
  EXPECT_EQ(value("tstz").value, "2024-03-01 10:00:00+00");
  EXPECT_TRUE(value("nul").isNull());
}

// Legacy databases carry settings of their own (ALTER DATABASE / ALTER ROLE ... SET), which
// every new session takes, the walsender's too — where wal2json formats values with them. None
// of them may change a value pgmorph reads: `escape` bytea would even lose its first two bytes
// (wal2json strips the two characters of the hex form's "\x").
TEST_F(SnapshotReaderTest, TheDatabasesOwnOutputSettingsChangeNoValue) {
  writer_->exec(
      "CREATE TABLE legacy (id int PRIMARY KEY, b bytea, tstz timestamptz, ts timestamp,"
      " day date, iv interval, d double precision)");
  for (const char* setting :
       {"bytea_output = 'escape'", "DateStyle = 'SQL, DMY'", "IntervalStyle = 'sql_standard'",
        "TimeZone = 'America/New_York'", "extra_float_digits = 0"})
    writer_->exec(fmt::format("ALTER DATABASE {} SET {}", writer_->quoteIdent(db_), setting));
  std::string slot = test::uniqueSlotName("settings");
  auto before = ExportedSnapshotSlot::create(conninfo(), slot);
  // The legacy application's session: psql, with the database's settings as they are.
  ASSERT_EQ(source().scalar(db_, "SHOW bytea_output"), "escape");
  source().psql(db_,
                "INSERT INTO legacy VALUES (1, '\\x41420043'::bytea, '2024-03-01 12:00:00+02',"
                " '2024-03-01 12:34:56.789', '2024-02-29', '1 day 02:03:04', 1.0 / 3)");
  auto after = ExportedSnapshotSlot::create(conninfo(), test::uniqueSlotName("settings2"));
  SnapshotReader reader(conninfo(), after.snapshotName());
  SnapshotRead read{
      "public", "legacy", SnapshotReader::describe(reader.connection(), "public", "legacy"),
      {},       {},       {}};
  auto snapshotRows = readAll(reader, read);
  ASSERT_EQ(snapshotRows.size(), 1u);
  auto streamed = streamInserts(slot, before.consistentPoint(), "legacy", 1);
  ASSERT_EQ(streamed.size(), 1u);
  for (const Change* c : {&snapshotRows[0], &streamed[0]}) {
    auto value = [&](const char* name) { return std::string(c->view(*c->findColumn(name)).value); };
    EXPECT_EQ(value("b"), "41420043");
    EXPECT_EQ(value("tstz"), "2024-03-01 10:00:00+00");
    EXPECT_EQ(value("ts"), "2024-03-01 12:34:56.789");
    EXPECT_EQ(value("day"), "2024-02-29");
    EXPECT_EQ(value("iv"), "1 day 02:03:04");
    EXPECT_EQ(value("d"), "0.3333333333333333");
  }
}

TEST_F(SnapshotReaderTest, DescribeNamesAMissingTableOrColumn) {
  writer_->exec("CREATE TABLE t (id int PRIMARY KEY, a text, b text)");
  PgConnection conn(conninfo(), "source");
  auto cols = SnapshotReader::describe(conn, "public", "t", {"b", "id"});
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[0].name, "id");  // catalog order, whatever order was asked
  EXPECT_EQ(cols[1].name, "b");
  try {
    SnapshotReader::describe(conn, "public", "t", {"id", "gone"});
    FAIL();
  } catch (const PgmorphError& e) {
    EXPECT_NE(std::string(e.what()).find("\"gone\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(SnapshotReader::describe(conn, "public", "nope"), PgmorphError);
}

}  // namespace
}  // namespace pgmorph
