// A reader following a journal while its writer appends, rolls segments and removes them:
// only complete transactions are yielded, and a reader overtaken by retention is told so.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

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

// The writer in another process, appending, rolling small segments and syncing, while this
// one follows: every transaction is seen once, in order, whole. Every 100th transaction is
// over a MB, so the writer writes it out in parts before its Commit.
std::size_t messagesOf(std::uint64_t n) {
  return n % 100 == 0 ? 500 : 1 + n % 5;
}
std::size_t bytesOf(std::uint64_t n) {
  return n % 100 == 0 ? 3000 : 100 + n % 700;
}

TEST(JournalFollowTest, AReaderInAnotherProcessFollowsALiveWriterAcrossRolls) {
  TempDir dir;
  constexpr std::uint64_t kTxns = 1500;
  {
    JournalWriter w(options(dir.path, 8 << 10));
    w.startAt(Lsn(1000));
  }
  ChildGuard child{::fork()};
  ASSERT_GE(child.pid, 0);
  if (child.pid == 0) {
    try {
      JournalWriter w(options(dir.path, 8 << 10));
      for (std::uint64_t n = 1; n <= kTxns; ++n) {
        if (!w.begin(commitOf(n))) ::_exit(4);  // no gtest in the child: it only writes
        for (std::size_t i = 0; i < messagesOf(n); ++i)
          w.append(Lsn(commitOf(n).value() - 900 + i), message(n, i, bytesOf(n)));
        w.commit();
        if (n % 7 == 0) w.sync();
      }
      w.sync();
      ::_exit(0);
    } catch (...) {
      ::_exit(3);
    }
  }
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  std::uint64_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen < kTxns && std::chrono::steady_clock::now() < deadline) {
    const auto read = readAll(r);
    for (const auto& t : read.txns) {
      ++seen;
      ASSERT_EQ(t, expectedTxn(seen, messagesOf(seen), bytesOf(seen)));
    }
    if (read.txns.empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (seen < kTxns) ::kill(child.pid, SIGKILL);
  const int status = child.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(seen, kTxns);
  EXPECT_GE(journal::listSegments(dir.path).size(), 20u);
}

}  // namespace
}  // namespace pgmorph
