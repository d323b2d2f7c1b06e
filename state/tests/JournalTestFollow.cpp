// A reader following a journal while its writer appends, rolls segments and removes them:
// only complete transactions are yielded, and a reader overtaken by retention is told so.
#include <gtest/gtest.h>

#include "state/journal/SegmentFile.h"
#include "state/tests/JournalTestUtil.h"

namespace pgmorph {
namespace {

using namespace journaltest;
using Kind = JournalReader::Record::Kind;

TEST(JournalFollowTest, AReaderSeesNewTransactionsButNeverAHalfWrittenOne) {
  TempDir dir;
  JournalWriter w(options(dir.path, 16 << 10));
  w.startAt(Lsn(1000));
  writeTxn(w, 1, 2);
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  EXPECT_EQ(readAll(r).txns, std::vector<ReadTxn>{expectedTxn(1, 2)});
  EXPECT_FALSE(r.next());

  // A large transaction, written out in part (past the writer's buffer) but not committed.
  ASSERT_TRUE(w.begin(commitOf(2)));
  for (int i = 0; i < 200; ++i) w.append(Lsn(commitOf(2).value() - 900 + i), message(2, i, 10000));
  EXPECT_GT(std::filesystem::file_size(journal::segmentPath(dir.path, Lsn(1000))), 1u << 20);
  EXPECT_FALSE(r.next());
  EXPECT_FALSE(r.next());  // asking again (the reader continues its check) changes nothing
  w.commit();
  auto rec = r.next();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->kind, Kind::Begin);
  EXPECT_EQ(rec->lsn, commitOf(2));
  std::size_t messages = 0;
  while ((rec = r.next()) && rec->kind == Kind::Message) ++messages;
  EXPECT_EQ(messages, 200u);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->kind, Kind::Commit);

  // The writer rolls (the segment is past 16 kB) and the reader follows into the new segment.
  for (std::uint64_t n = 3; n <= 40; ++n) {
    writeTxn(w, n, 3);
    const auto read = readAll(r);
    ASSERT_EQ(read.txns.size(), 1u) << n;
    EXPECT_EQ(read.txns.front(), expectedTxn(n, 3));
  }
  EXPECT_GE(journal::listSegments(dir.path).size(), 3u);
  w.advance(commitOf(41));
  EXPECT_EQ(readAll(r).positions, std::vector<std::uint64_t>{commitOf(41).value()});
}

TEST(JournalFollowTest, AReaderOvertakenByRetentionGetsAGap) {
  TempDir dir;
  JournalOptions o = options(dir.path, 2 << 10);
  o.retainBytes = 1;  // everything closed goes
  JournalWriter w(o);
  w.startAt(Lsn(1000));
  for (std::uint64_t n = 1; n <= 40; ++n) writeTxn(w, n, 3);
  ASSERT_GE(journal::listSegments(dir.path).size(), 4u);
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  ASSERT_TRUE(r.next());  // on the first segment
  const auto removed = w.applyRetention();
  EXPECT_GE(removed.removedSegments, 3u);
  EXPECT_EQ(w.start(), journal::listSegments(dir.path).front());
  try {
    while (r.next()) {
    }
    FAIL() << "no gap";
  } catch (const JournalGap& gap) {
    EXPECT_EQ(gap.start, w.start());
    EXPECT_EQ(gap.end, commitOf(40));
    EXPECT_NE(std::string(gap.what()).find("retention removed"), std::string::npos) << gap.what();
  }
  JournalReader late(dir.path);
  EXPECT_THROW(late.seek(Lsn(1000)), JournalGap);
}

}  // namespace
}  // namespace pgmorph
