// A legacy database in another encoding than UTF-8 (here LATIN1, with its own settings): the
// snapshot and the stream both hand out its text as UTF-8, and every session pgmorph opens
// speaks UTF-8 to it. Utf8Transcoder on its own: conversion, the ASCII fast path, refusals.
#include <gtest/gtest.h>
#include <poll.h>

#include <fmt/format.h>

#include "cdc/ExportedSnapshotSlot.h"
#include "cdc/ReplicationStream.h"
#include "cdc/SnapshotReader.h"
#include "cdc/Utf8Transcoder.h"
#include "cdc/Wal2JsonDecoder.h"
#include "cdc/model/Errors.h"
#include "cdc/tests/CdcTestSupport.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;

TEST(Utf8Transcoder, ConvertsLatin1AndLeavesAsciiAndUtf8Alone) {
  std::string buffer;
  Utf8Transcoder latin1("LATIN1");
  EXPECT_TRUE(latin1.needed());
  EXPECT_EQ(latin1.toUtf8("Z\xFCrich \xC6sir", buffer), "Zürich Æsir");
  std::string_view ascii = "{\"action\":\"I\",\"value\":\"plain\"}";
  EXPECT_EQ(latin1.toUtf8(ascii, buffer).data(), ascii.data());  // no copy
  Utf8Transcoder win1252("WIN1252");
  EXPECT_EQ(win1252.toUtf8("\x80 5", buffer), "€ 5");  // where LATIN1 has a control character
  for (const char* none : {"UTF8", "SQL_ASCII"}) {
    Utf8Transcoder t(none);
    EXPECT_FALSE(t.needed()) << none;
    std::string_view bytes = "Z\xFCrich";
    EXPECT_EQ(t.toUtf8(bytes, buffer).data(), bytes.data()) << none;
  }
}

TEST(Utf8Transcoder, RefusesAnEncodingItCannotReadAndASequenceThatIsNotValid) {
  try {
    Utf8Transcoder mule("MULE_INTERNAL");
    FAIL() << "MULE_INTERNAL was accepted";
  } catch (const PgmorphError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(std::string(e.what()).find("MULE_INTERNAL"), std::string::npos) << e.what();
  }
  Utf8Transcoder eucjp("EUC_JP");
  std::string buffer;
  try {
    eucjp.toUtf8("ok \xA4", buffer);  // the first byte of a two-byte character, alone
    FAIL() << "a cut sequence was converted";
  } catch (const PgmorphError& e) {
    EXPECT_NE(std::string(e.what()).find("EUC_JP"), std::string::npos) << e.what();
  }
}

class SourceEncodingTest : public test::SourceDatabaseTest {
 protected:
  void SetUp() override {
    test::SourceDatabaseTest::SetUp();
    source().dropDatabase(db_);
    db_ += "_latin1";  // TearDown drops this one
    source().psql("postgres", fmt::format("CREATE DATABASE \"{}\" ENCODING 'LATIN1' "
                                          "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
                                          db_));
  }
};

TEST_F(SourceEncodingTest, SnapshotAndStreamOfALatin1DatabaseAreUtf8) {
  PgConnection writer(conninfo(), "source");
  // The server converts what this UTF-8 session sends into the database's LATIN1.
  EXPECT_EQ(writer.exec("SHOW client_encoding").value(0, 0), "UTF8");
  EXPECT_EQ(writer.exec("SHOW server_encoding").value(0, 0), "LATIN1");
  writer.exec("SET synchronous_commit = on");
  writer.exec("CREATE TABLE town (id int PRIMARY KEY, name text, note varchar(20))");
  std::string slot = test::uniqueSlotName("latin1");
  auto before = ExportedSnapshotSlot::create(conninfo(), slot);
  writer.exec("INSERT INTO town VALUES (1, 'Zürich', 'Æsir ½ ÿ'), (2, 'plain', NULL)");
  auto after = ExportedSnapshotSlot::create(conninfo(), test::uniqueSlotName("latin1b"));

  SnapshotReader reader(conninfo(), after.snapshotName());
  SnapshotRead read{
      "public", "town", SnapshotReader::describe(reader.connection(), "public", "town"),
      {},       {},     {}};
  reader.start(read);
  std::vector<Change> snapshotRows;
  for (Change c; reader.next(c);) snapshotRows.push_back(c);

  ReplicationStream stream(conninfo(), slot);
  stream.start(before.consistentPoint(), Wal2JsonDecoder::pluginOptions());
  Wal2JsonDecoder decoder;
  std::vector<Change> streamed;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (streamed.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    while (auto m = stream.poll()) {
      Change c;
      decoder.decode(m->payload, m->dataStart, c);
      if (c.kind == ChangeKind::Insert && c.table() == "town") streamed.push_back(std::move(c));
    }
    pollfd fd{stream.socket(), POLLIN, 0};
    ::poll(&fd, 1, 50);
  }
  stream.stop();

  ASSERT_EQ(snapshotRows.size(), 2u);
  ASSERT_EQ(streamed.size(), 2u);
  for (const auto* rows : {&snapshotRows, &streamed}) {
    for (const Change& c : *rows) {
      auto value = [&](const char* name) { return std::string(c.view(*c.findColumn(name)).value); };
      if (value("id") != "1") continue;
      EXPECT_EQ(value("name"), "Zürich");
      EXPECT_EQ(value("note"), "Æsir ½ ÿ");
    }
  }
}

}  // namespace
}  // namespace pgmorph
