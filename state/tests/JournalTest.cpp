// The journal's writer and reader on one directory: round trips, segments closed only at a
// transaction boundary, resent transactions skipped, abort, Position records, and the index.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "state/journal/JournalFrame.h"
#include "state/journal/SegmentFile.h"
#include "state/journal/SegmentScan.h"
#include "state/tests/JournalTestUtil.h"

namespace pgmorph {
namespace {

using namespace journaltest;
namespace fs = std::filesystem;

// Every segment holds whole transactions: its frames end exactly at a boundary.
void expectSegmentsEndAtBoundaries(const fs::path& dir) {
  for (Lsn s : journal::listSegments(dir)) {
    journal::Fd fd = journal::openFile(journal::segmentPath(dir, s), O_RDONLY);
    journal::FrameScanner scanner(fd.get(), journal::segmentPath(dir, s));
    const auto scan = journal::scanSegment(scanner, 0, s);
    EXPECT_EQ(scan.boundary, fs::file_size(journal::segmentPath(dir, s))) << s.str();
    EXPECT_FALSE(scan.tornTransaction) << s.str();
  }
}

TEST(JournalTest, RoundTripsTransactionsAcrossSegmentsClosedOnlyAtBoundaries) {
  TempDir dir;
  std::vector<ReadTxn> expected;
  {
    JournalWriter w(options(dir.path, 4 << 10));
    EXPECT_TRUE(w.empty());
    w.startAt(Lsn(1000));
    EXPECT_FALSE(w.empty());
    for (std::uint64_t n = 1; n <= 30; ++n) {
      // Transaction 12 is larger than several segments: it stays whole in one.
      const std::size_t count = n == 12 ? 400 : n % 5 + 1;
      writeTxn(w, n, count);
      expected.push_back(expectedTxn(n, count));
    }
    w.sync();
    EXPECT_EQ(w.start(), Lsn(1000));
    EXPECT_EQ(w.end(), commitOf(30));
    EXPECT_EQ(w.durableEnd(), commitOf(30));
  }
  const auto segments = journal::listSegments(dir.path);
  EXPECT_GE(segments.size(), 4u);
  expectSegmentsEndAtBoundaries(dir.path);
  // Segments are named by the last commit end before them.
  for (std::size_t i = 1; i < segments.size(); ++i)
    EXPECT_EQ((segments[i].value() - 1000) % 1000, 0u) << segments[i].str();

  JournalReader r(dir.path);
  EXPECT_EQ(r.start(), Lsn(1000));
  EXPECT_EQ(r.end(), commitOf(30));
  r.seek(Lsn(1000));
  const auto read = readAll(r);
  EXPECT_EQ(read.txns, expected);
  const auto info = r.info();
  EXPECT_EQ(info.segments, segments.size());
  EXPECT_GT(info.bytes, 400u * 120);
}

TEST(JournalTest, BeginRefusesWhatIsAlreadyJournaledAlsoAfterReopening) {
  TempDir dir;
  {
    JournalWriter w(options(dir.path, 1 << 20));
    w.startAt(Lsn(1000));
    for (std::uint64_t n = 1; n <= 3; ++n) writeTxn(w, n, 2);
    EXPECT_FALSE(w.begin(commitOf(2)));
    EXPECT_FALSE(w.begin(commitOf(3)));
    EXPECT_FALSE(w.inTransaction());
    w.sync();
  }
  JournalWriter w(options(dir.path, 1 << 20));
  EXPECT_EQ(w.end(), commitOf(3));
  EXPECT_EQ(w.durableEnd(), commitOf(3));
  EXPECT_FALSE(w.begin(commitOf(1)));
  EXPECT_FALSE(w.begin(commitOf(3)));
  EXPECT_TRUE(w.begin(commitOf(4)));
  w.commit();
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  EXPECT_EQ(readAll(r).txns.size(), 4u);
}

TEST(JournalTest, AbortDropsThePartialTransactionEvenWhenPartlyWrittenOut) {
  TempDir dir;
  JournalWriter w(options(dir.path, 64 << 20));
  w.startAt(Lsn(1000));
  writeTxn(w, 1, 2);
  const auto sizeBefore = fs::file_size(journal::segmentPath(dir.path, Lsn(1000)));
  ASSERT_TRUE(w.begin(commitOf(2)));
  for (int i = 0; i < 300; ++i) w.append(Lsn(commitOf(2).value() - 900 + i), message(2, i, 10000));
  EXPECT_GT(fs::file_size(journal::segmentPath(dir.path, Lsn(1000))), sizeBefore);  // written out
  w.abort();
  EXPECT_FALSE(w.inTransaction());
  EXPECT_EQ(fs::file_size(journal::segmentPath(dir.path, Lsn(1000))), sizeBefore);
  EXPECT_EQ(w.end(), commitOf(1));
  writeTxn(w, 3, 2);
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  EXPECT_EQ(readAll(r).txns, (std::vector<ReadTxn>{expectedTxn(1, 2), expectedTxn(3, 2)}));
}

TEST(JournalTest, AdvanceRecordsPositionsAndIgnoresOlderOnes) {
  TempDir dir;
  JournalWriter w(options(dir.path, 1 << 20));
  w.startAt(Lsn(1000));
  writeTxn(w, 1, 1);
  w.advance(Lsn(2500));
  w.advance(Lsn(2400));  // older: ignored
  w.advance(Lsn(2500));  // the same: ignored
  EXPECT_EQ(w.end(), Lsn(2500));
  EXPECT_FALSE(w.begin(commitOf(1)));
  writeTxn(w, 2, 1);
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  const auto read = readAll(r);
  EXPECT_EQ(read.positions, std::vector<std::uint64_t>{2500});
  EXPECT_EQ(read.txns.size(), 2u);
  EXPECT_EQ(r.end(), commitOf(2));
  // A seek past a Position lands after it.
  JournalReader fromPosition(dir.path);
  fromPosition.seek(Lsn(2500));
  const auto after = readAll(fromPosition);
  EXPECT_TRUE(after.positions.empty());
  EXPECT_EQ(after.txns, std::vector<ReadTxn>{expectedTxn(2, 1)});
}

// Appends raw frames to the last segment, as a writer killed mid-transaction leaves them.
void appendRaw(const fs::path& dir, const std::string& bytes) {
  const auto starts = journal::listSegments(dir);
  journal::Fd fd = journal::openFile(journal::segmentPath(dir, starts.back()), O_WRONLY | O_APPEND);
  journal::writeAll(fd.get(), bytes, "test");
}

enum class Damage { TruncatedLastFrame, CorruptCrcAtTail, TransactionWithoutCommit };

class JournalRecoveryTest : public ::testing::TestWithParam<Damage> {};

TEST_P(JournalRecoveryTest, OpeningCutsTheDamagedTailAndKeepsEverythingBefore) {
  TempDir dir;
  std::vector<ReadTxn> expected;
  {
    JournalWriter w(options(dir.path, 4 << 10));
    w.startAt(Lsn(1000));
    for (std::uint64_t n = 1; n <= 10; ++n) {
      writeTxn(w, n, 3);
      expected.push_back(expectedTxn(n, 3));
    }
  }
  const auto last = journal::segmentPath(dir.path, journal::listSegments(dir.path).back());
  std::string tail;
  journal::appendFrame(tail, journal::FrameKind::Begin, commitOf(11), {});
  journal::appendFrame(tail, journal::FrameKind::Message, Lsn(commitOf(11).value() - 900),
                       message(11, 0));
  switch (GetParam()) {
    case Damage::TruncatedLastFrame:
      journal::appendFrame(tail, journal::FrameKind::Commit, commitOf(11), {});
      tail.resize(tail.size() - 3);
      break;
    case Damage::CorruptCrcAtTail:
      journal::appendFrame(tail, journal::FrameKind::Commit, commitOf(11), {});
      tail.back() ^= 0x01;  // the Commit frame's lsn: its CRC no longer checks
      break;
    case Damage::TransactionWithoutCommit:
      break;
  }
  appendRaw(dir.path, tail);
  const auto damagedSize = fs::file_size(last);

  // A reader meanwhile: the tail is "not yet", never an error, and never yielded.
  JournalReader before(dir.path);
  before.seek(Lsn(1000));
  EXPECT_EQ(readAll(before).txns, expected);

  JournalWriter w(options(dir.path, 4 << 10));
  EXPECT_EQ(w.end(), commitOf(10));
  EXPECT_EQ(fs::file_size(last), damagedSize - tail.size());
  writeTxn(w, 11, 2);  // the slot sends it again
  expected.push_back(expectedTxn(11, 2));
  EXPECT_NO_FATAL_FAILURE(expectSegmentsEndAtBoundaries(dir.path));
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  EXPECT_EQ(readAll(r).txns, expected);
}

INSTANTIATE_TEST_SUITE_P(Damages, JournalRecoveryTest,
                         ::testing::Values(Damage::TruncatedLastFrame, Damage::CorruptCrcAtTail,
                                           Damage::TransactionWithoutCommit));

TEST(JournalTest, SeekUsesTheIndexAndReadsNothingBeforeThePosition) {
  TempDir dir;
  {
    JournalWriter w(options(dir.path, 8 << 10));
    w.startAt(Lsn(1000));
    for (std::uint64_t n = 1; n <= 60; ++n) writeTxn(w, n, 4);
  }
  const auto segments = journal::listSegments(dir.path);
  ASSERT_GE(segments.size(), 4u);
  // Ruin every byte before transaction 40's Begin: the first segments, and the transactions
  // before 40 in its own segment. A reader that scanned from any segment's beginning fails.
  const Lsn target = commitOf(39);
  Lsn holding = segments.front();
  for (Lsn s : segments)
    if (s <= target) holding = s;
  for (Lsn s : segments) {
    if (s > holding) break;
    const auto path = journal::segmentPath(dir.path, s);
    std::uint64_t ruinTo = fs::file_size(path);
    if (s == holding) {
      const auto entries = journal::readIndex(journal::indexPath(dir.path, s), ruinTo);
      ruinTo = 0;
      for (const auto& e : entries)
        if (e.lsn == target) ruinTo = e.offset;  // keep transaction 39 (the seek lands on it)
    }
    journal::Fd fd = journal::openFile(path, O_WRONLY);
    const std::string junk(ruinTo, '\xAB');
    ASSERT_EQ(::pwrite(fd.get(), junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  }
  JournalReader r(dir.path);
  r.seek(target);
  const auto read = readAll(r);
  ASSERT_EQ(read.txns.size(), 21u);
  EXPECT_EQ(read.txns.front(), expectedTxn(40, 4));
  EXPECT_EQ(read.txns.back(), expectedTxn(60, 4));

  // And the ruined bytes are indeed found by a reader that has to read them.
  JournalReader fromStart(dir.path);
  fromStart.seek(Lsn(1000));
  EXPECT_THROW(readAll(fromStart), PgmorphError);
}

TEST(JournalTest, CorruptionBeforeTheTailIsAnErrorNamingFileAndOffset) {
  TempDir dir;
  {
    JournalWriter w(options(dir.path, 64 << 20));
    w.startAt(Lsn(1000));
    for (std::uint64_t n = 1; n <= 5; ++n) writeTxn(w, n, 2);
  }
  const auto path = journal::segmentPath(dir.path, Lsn(1000));
  const auto entries =
      journal::readIndex(journal::indexPath(dir.path, Lsn(1000)), fs::file_size(path));
  ASSERT_EQ(entries.size(), 5u);
  {
    journal::Fd fd = journal::openFile(path, O_WRONLY);
    const char bad = '\x7F';
    ASSERT_EQ(::pwrite(fd.get(), &bad, 1, static_cast<off_t>(entries[2].offset + 30)), 1);
  }
  JournalReader r(dir.path);
  r.seek(Lsn(1000));
  try {
    readAll(r);
    FAIL() << "no error";
  } catch (const PgmorphError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    // The Message frame after transaction 3's Begin (header 8 + kind 1 + lsn 8 bytes).
    EXPECT_NE(std::string(e.what()).find("offset " + std::to_string(entries[2].offset + 17)),
              std::string::npos)
        << e.what();
  }
}

TEST(JournalTest, SeekBeforeTheStartIsAGapNamingTheRange) {
  TempDir dir;
  JournalReader empty(dir.path);
  EXPECT_THROW(empty.seek(Lsn(5)), JournalGap);
  JournalWriter w(options(dir.path, 1 << 20));
  w.startAt(Lsn(1000));
  writeTxn(w, 1, 1);
  JournalReader r(dir.path);
  try {
    r.seek(Lsn(999));
    FAIL() << "no gap";
  } catch (const JournalGap& gap) {
    EXPECT_EQ(gap.start, Lsn(1000));
    EXPECT_EQ(gap.end, commitOf(1));
    EXPECT_NE(std::string(gap.what()).find("0/3E8"), std::string::npos) << gap.what();
  }
  EXPECT_NO_THROW(r.seek(Lsn(1000)));
}

}  // namespace
}  // namespace pgmorph
